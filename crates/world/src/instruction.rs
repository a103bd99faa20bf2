//! Instructions of the seven types: a structured [`EditOp`] plus its wording. Objects are named by
//! their shortest unambiguous description; wording comes from a training or a held-out template
//! set, so generalisation to unseen phrasings can be measured.

use rand::RngExt;
use rewardedit_core::EditType;
use serde::{Deserialize, Serialize};

use crate::edit::EditOp;
use crate::scene::{
    pick, pick_other, Background, Colour, Light, Object, Pattern, Referent, Scene, Shape, Size, Style, Texture, Tint,
};

/// Which template set wordings come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhrasingSet {
    /// The templates editors are trained on.
    #[default]
    Train,
    /// Different templates, never used for training: measures generalisation to new wordings.
    HeldOut,
}

/// One instruction: what to do (structured), how it is worded, and its Real-Edit type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instruction {
    pub op: EditOp,
    pub text: String,
    pub edit_type: EditType,
    pub phrasing: PhrasingSet,
    /// Index of the template within its set, for tracing a wording back.
    pub template: usize,
}

/// The families of wording; Local and Global have several because they change different things.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TemplateKind {
    Recolour,
    Reshape,
    Resize,
    Remove,
    Add,
    Retexture,
    Background,
    Light,
    Tint,
    Style,
}

impl TemplateKind {
    pub const ALL: [TemplateKind; 10] = [
        TemplateKind::Recolour,
        TemplateKind::Reshape,
        TemplateKind::Resize,
        TemplateKind::Remove,
        TemplateKind::Add,
        TemplateKind::Retexture,
        TemplateKind::Background,
        TemplateKind::Light,
        TemplateKind::Tint,
        TemplateKind::Style,
    ];

    pub fn of(op: &EditOp) -> TemplateKind {
        match op {
            EditOp::Recolour { .. } => TemplateKind::Recolour,
            EditOp::Reshape { .. } => TemplateKind::Reshape,
            EditOp::Resize { .. } => TemplateKind::Resize,
            EditOp::Remove { .. } => TemplateKind::Remove,
            EditOp::Add { .. } => TemplateKind::Add,
            EditOp::Retexture { .. } => TemplateKind::Retexture,
            EditOp::SetBackground { .. } => TemplateKind::Background,
            EditOp::SetLight { .. } => TemplateKind::Light,
            EditOp::SetTint { .. } => TemplateKind::Tint,
            EditOp::SetStyle { .. } => TemplateKind::Style,
        }
    }
}

/// The templates of one kind and set. Slots: `{obj}` the referred object, `{x}` the new value,
/// `{noun}` a noun form of it, `{pos}` a position phrase.
pub fn templates(kind: TemplateKind, set: PhrasingSet) -> &'static [&'static str] {
    use PhrasingSet::*;
    use TemplateKind::*;
    match (kind, set) {
        (Recolour, Train) => &[
            "make {obj} {x}",
            "turn {obj} {x}",
            "change the colour of {obj} to {x}",
            "paint {obj} {x}",
            "recolour {obj} in {x}",
        ],
        (Recolour, HeldOut) => &["{obj} should be {x}", "give {obj} a {x} colour", "could you colour {obj} {x}?"],
        (Reshape, Train) => &[
            "turn {obj} into {x}",
            "replace {obj} with {x} of the same colour",
            "change {obj} into {x}",
            "reshape {obj} into {x}",
            "make {obj} {x} instead",
        ],
        (Reshape, HeldOut) => &["{obj} should become {x}", "swap {obj} for {x} in the same colour", "morph {obj} into {x}"],
        (Resize, Train) => &[
            "make {obj} {x}",
            "resize {obj} to be {x}",
            "change the size of {obj} so it is {x}",
            "scale {obj} so it is {x}",
            "let {obj} be {x}",
        ],
        (Resize, HeldOut) => &["{obj} should be {x}", "I want {obj} {x}", "adjust {obj} to look {x}"],
        (Remove, Train) => &["remove {obj}", "delete {obj}", "take away {obj}", "erase {obj}", "get rid of {obj}"],
        (Remove, HeldOut) => &["{obj} should not be there", "make {obj} disappear", "clear {obj} from the picture"],
        (Add, Train) => &["add {x} {pos}", "put {x} {pos}", "place {x} {pos}", "draw {x} {pos}", "insert {x} {pos}"],
        (Add, HeldOut) => &["there should be {x} {pos}", "include {x} {pos}", "could you put {x} {pos}?"],
        (Retexture, Train) => &[
            "make {obj} {x}",
            "give {obj} {noun}",
            "change the texture of {obj} to {x}",
            "retexture {obj} with {noun}",
            "turn {obj} {x}",
        ],
        (Retexture, HeldOut) => &["{obj} should be {x}", "I want {noun} on {obj}", "decorate {obj} with {noun}"],
        (Background, Train) => &[
            "change the background to {noun}",
            "make the background {x}",
            "replace the background with {noun}",
            "use {noun}",
            "give the picture {noun}",
        ],
        (Background, HeldOut) => &["the background should be {x}", "swap the backdrop for {noun}", "set {noun} behind the shapes"],
        (Light, Train) => &[
            "make it {x}",
            "change the time of day to {noun}",
            "make the scene look like it is {x}",
            "turn the lighting to {noun}",
            "set the scene {x}",
        ],
        (Light, HeldOut) => &["show this {x}", "relight the picture as if {x}", "what would it look like {x}?"],
        (Tint, Train) => &[
            "make it {x}",
            "apply the {noun} colour grade",
            "change the season tint to {noun}",
            "recolour the scene with {noun} tones",
            "grade the image in {noun} colours",
        ],
        (Tint, HeldOut) => &["the scene should feel {x}", "switch to {noun} tones", "tone the whole picture {x}"],
        (Style, Train) => &[
            "turn it into {noun}",
            "make it look like {noun}",
            "render the image as {noun}",
            "restyle the picture as {noun}",
            "convert the image to {x} style",
        ],
        (Style, HeldOut) => &["I'd like this as {noun}", "redo the scene in {x} style", "the picture should look {x}"],
    }
}

fn texture_words(t: Texture) -> (&'static str, &'static str) {
    match t {
        Texture::Plain => ("plain", "a plain surface"),
        Texture::Striped => ("striped", "stripes"),
        Texture::Dotted => ("dotted", "dots"),
    }
}

fn light_words(l: Light) -> (&'static str, &'static str) {
    match l {
        Light::Day => ("in daylight", "day"),
        Light::Dusk => ("at dusk", "dusk"),
        Light::Night => ("at night", "night"),
    }
}

fn tint_words(t: Tint) -> (&'static str, &'static str) {
    match t {
        Tint::Neutral => ("neutral", "neutral"),
        Tint::Autumn => ("autumnal", "autumn"),
        Tint::Winter => ("wintry", "winter"),
    }
}

fn style_words(s: Style) -> (&'static str, &'static str) {
    match s {
        Style::Photo => ("photographic", "a photo"),
        Style::Sketch => ("sketched", "a pencil sketch"),
        Style::Sepia => ("sepia", "a sepia print"),
        Style::Posterized => ("posterized", "a poster"),
    }
}

/// "a star", "an hexagon" is wrong English: the article follows the first sound.
pub(crate) fn with_article(noun: &str) -> String {
    let vowel = noun.chars().next().is_some_and(|c| "aeiou".contains(c));
    format!("{} {noun}", if vowel { "an" } else { "a" })
}

/// The description of a source object used in instructions and flaw sentences.
pub fn refer(scene: &Scene, index: usize) -> String {
    Referent::shortest(scene, index).phrase()
}

/// Words a template's slots are filled with, for `op` on `scene`.
fn slots(op: &EditOp, scene: &Scene) -> (String, String, String, String) {
    let obj = op.object().filter(|&i| i < scene.objects.len()).map(|i| refer(scene, i)).unwrap_or_default();
    let (x, noun, pos) = match *op {
        EditOp::Recolour { to, .. } => (to.name().to_string(), String::new(), String::new()),
        EditOp::Reshape { to, .. } => (with_article(to.name()), String::new(), String::new()),
        EditOp::Resize { to, .. } => ((if to == Size::Large { "larger" } else { "smaller" }).to_string(), String::new(), String::new()),
        EditOp::Remove { .. } => (String::new(), String::new(), String::new()),
        EditOp::Add { new } => (with_article(&new.noun_phrase()), String::new(), new.cell.phrase().to_string()),
        EditOp::Retexture { to, .. } => {
            let (a, n) = texture_words(to);
            (a.to_string(), n.to_string(), String::new())
        }
        EditOp::SetBackground { to } => {
            (format!("{} {}", to.pattern.adjective(), to.colour.name()), to.phrase(), String::new())
        }
        EditOp::SetLight { to } => {
            let (a, n) = light_words(to);
            (a.to_string(), n.to_string(), String::new())
        }
        EditOp::SetTint { to } => {
            let (a, n) = tint_words(to);
            (a.to_string(), n.to_string(), String::new())
        }
        EditOp::SetStyle { to } => {
            let (a, n) = style_words(to);
            (a.to_string(), n.to_string(), String::new())
        }
    };
    (obj, x, noun, pos)
}

/// Words `op` on `scene` with template `template` of `set` (taken modulo the set's size).
pub fn phrase(op: &EditOp, scene: &Scene, set: PhrasingSet, template: usize) -> String {
    let ts = templates(TemplateKind::of(op), set);
    let (obj, x, noun, pos) = slots(op, scene);
    let text = ts[template % ts.len()]
        .replace("{obj}", &obj)
        .replace("{x}", &x)
        .replace("{noun}", &noun)
        .replace("{pos}", &pos);
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

/// A random edit of type `edit_type` that changes something in `scene`.
pub fn random_op<R: RngExt + ?Sized>(rng: &mut R, scene: &Scene, edit_type: EditType) -> EditOp {
    let n = scene.objects.len();
    // Scenes always hold at least one object; guard anyway so an empty scene gets an Add.
    if n == 0 && matches!(edit_type, EditType::Local | EditType::Remove | EditType::Texture) {
        return random_op(rng, scene, EditType::Add);
    }
    let object = if n > 0 { rng.random_range(0..n) } else { 0 };
    match edit_type {
        EditType::Local => {
            let o = scene.objects[object];
            match rng.random_range(0..3) {
                0 => EditOp::Recolour { object, to: pick_other(rng, &Colour::ALL, o.colour) },
                1 => EditOp::Reshape { object, to: pick_other(rng, &Shape::ALL, o.shape) },
                _ => EditOp::Resize { object, to: o.size.other() },
            }
        }
        EditType::Remove => EditOp::Remove { object },
        EditType::Add => {
            let cells = scene.free_cells();
            let cell = pick(rng, &cells);
            EditOp::Add { new: Object::random(rng, cell) }
        }
        EditType::Texture => EditOp::Retexture { object, to: pick_other(rng, &Texture::ALL, scene.objects[object].texture) },
        EditType::Background => {
            let bg = scene.background;
            let to = match rng.random_range(0..5) {
                0 => Background { pattern: pick_other(rng, &Pattern::ALL, bg.pattern), ..bg },
                1 => Background { colour: pick_other(rng, &Colour::ALL, bg.colour), pattern: pick_other(rng, &Pattern::ALL, bg.pattern) },
                _ => Background { colour: pick_other(rng, &Colour::ALL, bg.colour), ..bg },
            };
            EditOp::SetBackground { to }
        }
        EditType::Global => {
            if rng.random_bool(0.5) {
                EditOp::SetLight { to: pick_other(rng, &Light::ALL, scene.light) }
            } else {
                EditOp::SetTint { to: pick_other(rng, &Tint::ALL, scene.tint) }
            }
        }
        EditType::Style => EditOp::SetStyle { to: pick_other(rng, &Style::ALL, scene.style) },
    }
}

impl Instruction {
    /// Words `op` with a random template of `set`.
    pub fn new<R: RngExt + ?Sized>(rng: &mut R, scene: &Scene, op: EditOp, set: PhrasingSet) -> Instruction {
        let template = rng.random_range(0..templates(TemplateKind::of(&op), set).len());
        Instruction { text: phrase(&op, scene, set, template), edit_type: op.edit_type(), op, phrasing: set, template }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_enough_disjoint_templates() {
        for k in TemplateKind::ALL {
            let train = templates(k, PhrasingSet::Train);
            let held = templates(k, PhrasingSet::HeldOut);
            assert!(train.len() >= 5, "{k:?}");
            assert!(held.len() >= 3, "{k:?}");
            assert!(held.iter().all(|h| !train.contains(h)), "{k:?}");
        }
    }

    #[test]
    fn articles_follow_the_sound() {
        assert_eq!(with_article("hexagon"), "a hexagon");
        assert_eq!(with_article("star"), "a star");
        assert_eq!(with_article("orange circle"), "an orange circle");
    }
}
