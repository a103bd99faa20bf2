//! Structured edits: what each instruction asks for, the scene it produces, and the region of
//! the image it is allowed to change.

use image::{GrayImage, Luma, RgbImage};
use rewardedit_core::EditType;
use serde::{Deserialize, Serialize};

use crate::instruction::Instruction;
use crate::render::{self, footprint};
use crate::scene::{Background, Colour, Light, Object, Scene, Shape, Size, Style, Texture, Tint};
use crate::Error;

/// The structured form of an instruction. Object indices point into the source scene.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum EditOp {
    Recolour { object: usize, to: Colour },
    Reshape { object: usize, to: Shape },
    Resize { object: usize, to: Size },
    Remove { object: usize },
    Add { new: Object },
    Retexture { object: usize, to: Texture },
    SetBackground { to: Background },
    SetLight { to: Light },
    SetTint { to: Tint },
    SetStyle { to: Style },
}

impl EditOp {
    pub fn edit_type(&self) -> EditType {
        match self {
            EditOp::Recolour { .. } | EditOp::Reshape { .. } | EditOp::Resize { .. } => EditType::Local,
            EditOp::Remove { .. } => EditType::Remove,
            EditOp::Add { .. } => EditType::Add,
            EditOp::Retexture { .. } => EditType::Texture,
            EditOp::SetBackground { .. } => EditType::Background,
            EditOp::SetLight { .. } | EditOp::SetTint { .. } => EditType::Global,
            EditOp::SetStyle { .. } => EditType::Style,
        }
    }

    /// The source object this edit changes, if it changes one that exists.
    pub fn object(&self) -> Option<usize> {
        match *self {
            EditOp::Recolour { object, .. }
            | EditOp::Reshape { object, .. }
            | EditOp::Resize { object, .. }
            | EditOp::Remove { object }
            | EditOp::Retexture { object, .. } => Some(object),
            _ => None,
        }
    }

    /// The same kind of edit aimed at another object (for the wrong-object flaw); `None` for
    /// edits that do not target an existing object.
    pub fn retarget(&self, other: usize) -> Option<EditOp> {
        let mut op = *self;
        match &mut op {
            EditOp::Recolour { object, .. }
            | EditOp::Reshape { object, .. }
            | EditOp::Resize { object, .. }
            | EditOp::Remove { object }
            | EditOp::Retexture { object, .. } => *object = other,
            _ => return None,
        }
        Some(op)
    }

    /// The scene after the edit. Fails only when the op names an object or cell the scene lacks.
    pub fn apply(&self, scene: &Scene) -> Result<Scene, Error> {
        let mut s = scene.clone();
        fn obj(s: &mut Scene, i: usize) -> Result<&mut Object, Error> {
            let n = s.objects.len();
            s.objects.get_mut(i).ok_or_else(|| Error::BadOp(format!("object {i} does not exist (scene has {n})")))
        }
        match *self {
            EditOp::Recolour { object, to } => obj(&mut s, object)?.colour = to,
            EditOp::Reshape { object, to } => obj(&mut s, object)?.shape = to,
            EditOp::Resize { object, to } => obj(&mut s, object)?.size = to,
            EditOp::Retexture { object, to } => obj(&mut s, object)?.texture = to,
            EditOp::Remove { object } => {
                obj(&mut s, object)?;
                s.objects.remove(object);
            }
            EditOp::Add { new } => {
                if s.object_at(new.cell).is_some() {
                    return Err(Error::BadOp(format!("cell {} is already taken", new.cell.index())));
                }
                s.objects.push(new);
                s.objects.sort_by_key(|o| o.cell.index());
            }
            EditOp::SetBackground { to } => s.background = to,
            EditOp::SetLight { to } => s.light = to,
            EditOp::SetTint { to } => s.tint = to,
            EditOp::SetStyle { to } => s.style = to,
        }
        Ok(s)
    }
}

/// Grows a boolean map by one pixel (3x3 neighbourhood), covering anti-aliasing spill.
pub fn dilate(m: &[bool], size: u32) -> Vec<bool> {
    let n = size as i64;
    let mut out = vec![false; m.len()];
    for y in 0..n {
        for x in 0..n {
            if m[(y * n + x) as usize] {
                for dy in -1..=1 {
                    for dx in -1..=1 {
                        let (u, v) = (x + dx, y + dy);
                        if (0..n).contains(&u) && (0..n).contains(&v) {
                            out[(v * n + u) as usize] = true;
                        }
                    }
                }
            }
        }
    }
    out
}

/// The region `op` may change, as booleans (true = may change):
/// whole-image edits: everything; object edits: the object's footprint before and after, grown by
/// a pixel; Background: everything not fully covered by an object, grown by a pixel.
pub fn edit_region(scene: &Scene, op: &EditOp, size: u32) -> Result<Vec<bool>, Error> {
    let n = (size * size) as usize;
    let union = |a: Vec<bool>, b: &Vec<bool>| -> Vec<bool> { a.iter().zip(b).map(|(x, y)| *x || *y).collect() };
    let region = match op {
        EditOp::SetLight { .. } | EditOp::SetTint { .. } | EditOp::SetStyle { .. } => return Ok(vec![true; n]),
        EditOp::SetBackground { .. } => {
            let mut covered = vec![false; n];
            for o in &scene.objects {
                for (c, a) in covered.iter_mut().zip(render::object_coverage(o, size, (0.0, 0.0))) {
                    *c |= a == 255;
                }
            }
            covered.iter().map(|c| !c).collect()
        }
        EditOp::Add { new } => footprint(new, size),
        _ => {
            let i = op.object().ok_or_else(|| Error::BadOp("edit without an object".into()))?;
            let before = scene.objects.get(i).ok_or_else(|| Error::BadOp(format!("object {i} does not exist")))?;
            let after_scene = op.apply(scene)?;
            let before_fp = footprint(before, size);
            match after_scene.object_at(before.cell) {
                Some(j) => union(before_fp, &footprint(&after_scene.objects[j], size)),
                None => before_fp,
            }
        }
    };
    Ok(dilate(&region, size))
}

/// Everything about one (scene, instruction) pair at one size: the source and target images and
/// the edit region. Built once and shared by the flaw injector and the oracle.
#[derive(Debug, Clone)]
pub struct EditCase {
    pub scene: Scene,
    pub target_scene: Scene,
    pub instruction: Instruction,
    pub size: u32,
    pub source: RgbImage,
    pub target: RgbImage,
    /// Edit region, row-major, true = may change.
    pub region: Vec<bool>,
    /// The source scene's content colour (before light, tint and style) per pixel, packed RGB:
    /// whole-image edits are functions of it, which the oracle's preservation relies on.
    pub content_key: Vec<u32>,
}

impl EditCase {
    pub fn new(scene: &Scene, instruction: &Instruction, size: u32) -> Result<EditCase, Error> {
        if size < render::MIN_SIZE {
            return Err(Error::InvalidConfig(format!("image size {size} is below the minimum {}", render::MIN_SIZE)));
        }
        let target_scene = instruction.op.apply(scene)?;
        let placed: Vec<render::Placed<'_>> =
            scene.objects.iter().map(|o| render::Placed { object: o, offset: (0.0, 0.0) }).collect();
        let content = render::render_content(scene.background, &placed, size);
        let content_key = content
            .iter()
            .map(|c| c.iter().fold(0u32, |k, v| (k << 8) | v.round().clamp(0.0, 255.0) as u32))
            .collect();
        Ok(EditCase {
            source: render::finish(&content, size, scene.light, scene.tint, scene.style),
            content_key,
            target: render::render(&target_scene, size),
            region: edit_region(scene, &instruction.op, size)?,
            scene: scene.clone(),
            target_scene,
            instruction: instruction.clone(),
            size,
        })
    }

    /// The edit region as an image: 255 = may change, 0 = must stay.
    pub fn mask(&self) -> GrayImage {
        let mut m = GrayImage::new(self.size, self.size);
        for (p, &r) in m.pixels_mut().zip(&self.region) {
            *p = Luma([if r { 255 } else { 0 }]);
        }
        m
    }

    pub fn edit_type(&self) -> EditType {
        self.instruction.edit_type
    }
}
