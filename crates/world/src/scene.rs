//! What a world image shows: a background, 1-4 objects on a 3x3 grid, global light, tint and
//! style. Everything here is plain data; `render` turns it into pixels.

use rand::RngExt;
use serde::{Deserialize, Serialize};

/// Object shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    Circle,
    Square,
    Triangle,
    Star,
    Hexagon,
    Diamond,
}

impl Shape {
    pub const ALL: [Shape; 6] =
        [Shape::Circle, Shape::Square, Shape::Triangle, Shape::Star, Shape::Hexagon, Shape::Diamond];

    pub fn name(self) -> &'static str {
        match self {
            Shape::Circle => "circle",
            Shape::Square => "square",
            Shape::Triangle => "triangle",
            Shape::Star => "star",
            Shape::Hexagon => "hexagon",
            Shape::Diamond => "diamond",
        }
    }
}

/// Named colours, shared by objects (saturated) and backgrounds (rendered muted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    Red,
    Orange,
    Yellow,
    Green,
    Blue,
    Purple,
    Pink,
    White,
    Black,
    Brown,
}

impl Colour {
    pub const ALL: [Colour; 10] = [
        Colour::Red,
        Colour::Orange,
        Colour::Yellow,
        Colour::Green,
        Colour::Blue,
        Colour::Purple,
        Colour::Pink,
        Colour::White,
        Colour::Black,
        Colour::Brown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Colour::Red => "red",
            Colour::Orange => "orange",
            Colour::Yellow => "yellow",
            Colour::Green => "green",
            Colour::Blue => "blue",
            Colour::Purple => "purple",
            Colour::Pink => "pink",
            Colour::White => "white",
            Colour::Black => "black",
            Colour::Brown => "brown",
        }
    }

    /// The object colour, sRGB 0-255.
    pub fn rgb(self) -> [f32; 3] {
        match self {
            Colour::Red => [215.0, 35.0, 40.0],
            Colour::Orange => [245.0, 135.0, 20.0],
            Colour::Yellow => [240.0, 215.0, 30.0],
            Colour::Green => [35.0, 160.0, 60.0],
            Colour::Blue => [35.0, 80.0, 215.0],
            Colour::Purple => [135.0, 50.0, 185.0],
            Colour::Pink => [245.0, 120.0, 185.0],
            Colour::White => [245.0, 245.0, 245.0],
            Colour::Black => [25.0, 25.0, 30.0],
            Colour::Brown => [120.0, 70.0, 30.0],
        }
    }

    /// The background version: muted towards light grey so objects stand out.
    pub fn background_rgb(self) -> [f32; 3] {
        self.rgb().map(|c| 0.45 * c + 0.55 * 200.0)
    }
}

/// Object size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    Small,
    Large,
}

impl Size {
    pub fn name(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Large => "large",
        }
    }

    /// Radius as a fraction of a grid cell's side.
    pub fn radius_fraction(self) -> f32 {
        match self {
            Size::Small => 0.25,
            Size::Large => 0.42,
        }
    }

    pub fn other(self) -> Size {
        match self {
            Size::Small => Size::Large,
            Size::Large => Size::Small,
        }
    }
}

/// Surface pattern of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Texture {
    Plain,
    Striped,
    Dotted,
}

impl Texture {
    pub const ALL: [Texture; 3] = [Texture::Plain, Texture::Striped, Texture::Dotted];

    pub fn name(self) -> &'static str {
        match self {
            Texture::Plain => "plain",
            Texture::Striped => "striped",
            Texture::Dotted => "dotted",
        }
    }
}

/// A cell of the 3x3 grid, row-major: 0 = top left, 4 = centre, 8 = bottom right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cell(u8);

impl Cell {
    /// A cell from its row-major index; `None` unless `index < 9`.
    pub fn new(index: u8) -> Option<Cell> {
        (index < 9).then_some(Cell(index))
    }

    pub fn all() -> impl Iterator<Item = Cell> {
        (0..9).map(Cell)
    }

    pub fn index(self) -> usize {
        self.0 as usize
    }

    pub fn row(self) -> usize {
        self.index() / 3
    }

    pub fn col(self) -> usize {
        self.index() % 3
    }

    /// Where the cell is, as a phrase that follows a noun ("the circle in the top left").
    pub fn phrase(self) -> &'static str {
        [
            "in the top left",
            "at the top",
            "in the top right",
            "on the left",
            "in the centre",
            "on the right",
            "in the bottom left",
            "at the bottom",
            "in the bottom right",
        ][self.index()]
    }
}

/// One object of a scene.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    pub shape: Shape,
    pub colour: Colour,
    pub size: Size,
    pub texture: Texture,
    /// Unique within a scene, so that position alone always identifies an object.
    pub cell: Cell,
}

/// Background fill pattern; patterns alternate the background colour with a lighter shade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pattern {
    Solid,
    Stripes,
    Checker,
    Gradient,
}

impl Pattern {
    pub const ALL: [Pattern; 4] = [Pattern::Solid, Pattern::Stripes, Pattern::Checker, Pattern::Gradient];

    /// How the pattern is named in an instruction ("a striped blue background").
    pub fn adjective(self) -> &'static str {
        match self {
            Pattern::Solid => "plain",
            Pattern::Stripes => "striped",
            Pattern::Checker => "checkered",
            Pattern::Gradient => "gradient",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Background {
    pub colour: Colour,
    pub pattern: Pattern,
}

impl Background {
    /// "a checkered green background", "a plain blue background".
    pub fn phrase(self) -> String {
        format!("a {} {} background", self.pattern.adjective(), self.colour.name())
    }
}

/// Global illumination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Light {
    Day,
    Dusk,
    Night,
}

impl Light {
    pub const ALL: [Light; 3] = [Light::Day, Light::Dusk, Light::Night];

    pub fn name(self) -> &'static str {
        match self {
            Light::Day => "day",
            Light::Dusk => "dusk",
            Light::Night => "night",
        }
    }
}

/// A season-like colour grade over the whole image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tint {
    Neutral,
    Autumn,
    Winter,
}

impl Tint {
    pub const ALL: [Tint; 3] = [Tint::Neutral, Tint::Autumn, Tint::Winter];

    pub fn name(self) -> &'static str {
        match self {
            Tint::Neutral => "neutral",
            Tint::Autumn => "autumn",
            Tint::Winter => "winter",
        }
    }
}

/// Rendering style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    Photo,
    Sketch,
    Sepia,
    Posterized,
}

impl Style {
    pub const ALL: [Style; 4] = [Style::Photo, Style::Sketch, Style::Sepia, Style::Posterized];

    pub fn name(self) -> &'static str {
        match self {
            Style::Photo => "photo",
            Style::Sketch => "sketch",
            Style::Sepia => "sepia",
            Style::Posterized => "posterized",
        }
    }
}

/// A whole scene. Objects never overlap: each sits inside its own grid cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    pub background: Background,
    pub objects: Vec<Object>,
    pub light: Light,
    pub tint: Tint,
    pub style: Style,
}

/// Most objects a scene may hold; leaves free cells for Add.
pub const MAX_OBJECTS: usize = 4;

/// Picks one element of a non-empty slice.
pub(crate) fn pick<T: Copy, R: RngExt + ?Sized>(rng: &mut R, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

/// Picks an element different from `not`.
pub(crate) fn pick_other<T: Copy + PartialEq, R: RngExt + ?Sized>(rng: &mut R, items: &[T], not: T) -> T {
    let others: Vec<T> = items.iter().copied().filter(|&x| x != not).collect();
    pick(rng, &others)
}

impl Object {
    /// A random object in `cell`.
    pub fn random<R: RngExt + ?Sized>(rng: &mut R, cell: Cell) -> Object {
        Object {
            shape: pick(rng, &Shape::ALL),
            colour: pick(rng, &Colour::ALL),
            size: if rng.random_bool(0.5) { Size::Small } else { Size::Large },
            // Plain is the common case, as in photos; textures are what Texture edits change.
            texture: pick(rng, &[Texture::Plain, Texture::Plain, Texture::Striped, Texture::Dotted]),
            cell,
        }
    }

    /// "a small striped red circle" (no position): the full description of a new object.
    pub fn noun_phrase(&self) -> String {
        let texture = match self.texture {
            Texture::Plain => String::new(),
            t => format!("{} ", t.name()),
        };
        format!("{} {}{} {}", self.size.name(), texture, self.colour.name(), self.shape.name())
    }
}

impl Scene {
    /// A random scene with between `min_objects` and `max_objects` objects (clamped to 1..=4),
    /// in distinct random cells.
    pub fn random<R: RngExt + ?Sized>(rng: &mut R, min_objects: usize, max_objects: usize) -> Scene {
        let hi = max_objects.clamp(1, MAX_OBJECTS);
        let lo = min_objects.clamp(1, hi);
        let n = rng.random_range(lo..=hi);
        let mut cells: Vec<Cell> = Cell::all().collect();
        let mut objects = Vec::with_capacity(n);
        for _ in 0..n {
            let cell = cells.swap_remove(rng.random_range(0..cells.len()));
            objects.push(Object::random(rng, cell));
        }
        objects.sort_by_key(|o| o.cell.index());
        Scene {
            background: Background { colour: pick(rng, &Colour::ALL), pattern: pick(rng, &Pattern::ALL) },
            objects,
            // Most scenes are plain daylight photos, as most source photos are.
            light: pick(rng, &[Light::Day, Light::Day, Light::Dusk, Light::Night]),
            tint: pick(rng, &[Tint::Neutral, Tint::Neutral, Tint::Autumn, Tint::Winter]),
            style: pick(rng, &[Style::Photo, Style::Photo, Style::Photo, Style::Sketch, Style::Sepia, Style::Posterized]),
        }
    }

    /// Cells not taken by any object.
    pub fn free_cells(&self) -> Vec<Cell> {
        Cell::all().filter(|c| self.objects.iter().all(|o| o.cell != *c)).collect()
    }

    /// Index of the object in `cell`.
    pub fn object_at(&self, cell: Cell) -> Option<usize> {
        self.objects.iter().position(|o| o.cell == cell)
    }
}

/// A referring expression: the shape always, plus the attributes needed to single out one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referent {
    pub shape: Shape,
    pub colour: Option<Colour>,
    pub size: Option<Size>,
    pub texture: Option<Texture>,
    pub cell: Option<Cell>,
}

impl Referent {
    pub fn matches(&self, o: &Object) -> bool {
        o.shape == self.shape
            && self.colour.is_none_or(|c| c == o.colour)
            && self.size.is_none_or(|s| s == o.size)
            && self.texture.is_none_or(|t| t == o.texture)
            && self.cell.is_none_or(|c| c == o.cell)
    }

    /// The shortest description of `scene.objects[index]` that matches it alone. Attribute sets
    /// are tried by count, then in the order colour, size, texture, position; position is unique
    /// per object, so the search always ends.
    pub fn shortest(scene: &Scene, index: usize) -> Referent {
        let o = scene.objects[index];
        // Bits: 1 colour, 2 size, 4 texture, 8 position; ordered by popcount then value.
        let mut masks: Vec<u8> = (0..16).collect();
        masks.sort_by_key(|m| (m.count_ones(), *m));
        for m in masks {
            let r = Referent {
                shape: o.shape,
                colour: (m & 1 != 0).then_some(o.colour),
                size: (m & 2 != 0).then_some(o.size),
                texture: (m & 4 != 0).then_some(o.texture),
                cell: (m & 8 != 0).then_some(o.cell),
            };
            if scene.objects.iter().filter(|x| r.matches(x)).count() == 1 {
                return r;
            }
        }
        unreachable!("position is unique per object, so the full description always matches one object")
    }

    /// "the small red circle on the left".
    pub fn phrase(&self) -> String {
        let mut s = String::from("the");
        if let Some(z) = self.size {
            s += " ";
            s += z.name();
        }
        if let Some(t) = self.texture {
            s += " ";
            s += t.name();
        }
        if let Some(c) = self.colour {
            s += " ";
            s += c.name();
        }
        s += " ";
        s += self.shape.name();
        if let Some(c) = self.cell {
            s += " ";
            s += c.phrase();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn random_scenes_have_unique_cells_and_bounded_counts() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            let s = Scene::random(&mut rng, 1, 4);
            assert!((1..=4).contains(&s.objects.len()));
            let mut cells: Vec<_> = s.objects.iter().map(|o| o.cell.index()).collect();
            cells.dedup();
            assert_eq!(cells.len(), s.objects.len());
            assert_eq!(s.free_cells().len(), 9 - s.objects.len());
        }
    }

    #[test]
    fn shortest_referent_uses_no_more_than_needed() {
        let mk = |shape, colour, cell| Object {
            shape,
            colour,
            size: Size::Small,
            texture: Texture::Plain,
            cell: Cell::new(cell).unwrap(),
        };
        let scene = Scene {
            background: Background { colour: Colour::White, pattern: Pattern::Solid },
            objects: vec![
                mk(Shape::Circle, Colour::Red, 0),
                mk(Shape::Circle, Colour::Blue, 1),
                mk(Shape::Star, Colour::Red, 2),
                mk(Shape::Star, Colour::Red, 5),
            ],
            light: Light::Day,
            tint: Tint::Neutral,
            style: Style::Photo,
        };
        assert_eq!(Referent::shortest(&scene, 0).phrase(), "the red circle");
        assert_eq!(Referent::shortest(&scene, 1).phrase(), "the blue circle");
        assert_eq!(Referent::shortest(&scene, 2).phrase(), "the star in the top right");
        assert_eq!(Referent::shortest(&scene, 3).phrase(), "the star on the right");
    }
}
