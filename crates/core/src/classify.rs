//! A keyword classifier from an instruction to one of the seven [`EditType`]s, for data sets
//! that carry no type (RewardEdit-20K, diffusers image folders). It only groups statistics per
//! type; nothing is trained on its answer. Its agreement with Real-Edit's labels is tested.

use crate::EditType;

/// Phrases per type, tried in this order; the first type with a phrase in the instruction
/// wins. The order settles overlaps: "change the background to a painting style" is Style,
/// "remove the people in the background" is Remove, "add snow everywhere" is Global.
/// Each phrase is a sequence of whole lowercase words.
const RULES: [(EditType, &[&str]); 6] = [
    (
        EditType::Style,
        &[
            "style",
            "styled",
            "painting",
            "painted",
            "watercolor",
            "watercolour",
            "sketch",
            "drawing",
            "cartoon",
            "anime",
            "comic",
            "pixel art",
            "oil paint",
            "pencil",
            "impressionist",
            "cubist",
            "pop art",
            "sepia",
            "van gogh",
            "monet",
            "picasso",
            "ukiyo",
            "mosaic",
            "charcoal",
            "illustration",
            "black and white",
        ],
    ),
    (
        EditType::Remove,
        &["remove", "erase", "delete", "get rid", "take away", "take out", "eliminate", "without"],
    ),
    (EditType::Background, &["background", "backdrop", "behind"]),
    (
        EditType::Global,
        &[
            "entire",
            "whole",
            "winter",
            "summer",
            "autumn",
            "fall season",
            "spring",
            "season",
            "night",
            "nighttime",
            "sunset",
            "sunrise",
            "dusk",
            "dawn",
            "daytime",
            "snowy",
            "foggy",
            "rainy",
            "stormy",
            "lighting",
            "weather",
            "everywhere",
            "scene",
        ],
    ),
    (EditType::Add, &["add", "insert", "put", "place", "include", "give"]),
    (
        EditType::Texture,
        &[
            "texture", "textured", "made of", "material", "wooden", "metallic", "metal", "marble",
            "glass", "furry", "fluffy", "velvet", "leather", "stone", "knitted", "woven", "rusty",
            "shiny", "smooth", "rough", "frozen", "golden", "crystal", "pattern", "finish",
            "stripes",
        ],
    ),
];

/// Guesses the edit type of an instruction; [`EditType::Local`] (change one thing's colour,
/// shape or size) when no rule fires.
pub fn classify_instruction(instruction: &str) -> EditType {
    let words: Vec<String> = instruction
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let has = |phrase: &str| {
        let p: Vec<&str> = phrase.split(' ').collect();
        words.windows(p.len()).any(|w| w.iter().zip(&p).all(|(a, b)| a == b))
    };
    RULES
        .iter()
        .find(|(_, phrases)| phrases.iter().any(|p| has(p)))
        .map_or(EditType::Local, |(t, _)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typical_instructions() {
        let cases = [
            ("make it a Van Gogh painting", EditType::Style),
            ("Replace the background with a beach", EditType::Background),
            ("turn it into a winter scene", EditType::Global),
            ("remove the dog", EditType::Remove),
            ("Add a hat to the man", EditType::Add),
            ("make the table wooden", EditType::Texture),
            ("make the car red", EditType::Local),
        ];
        for (instruction, want) in cases {
            assert_eq!(classify_instruction(instruction), want, "{instruction}");
        }
    }

    #[test]
    fn matches_whole_words_only() {
        // "add" inside "address", "put" inside "output", "style" inside "stylus".
        assert_eq!(classify_instruction("change the address sign to blue"), EditType::Local);
        assert_eq!(classify_instruction("make the output bin green"), EditType::Local);
        assert_eq!(classify_instruction("make the stylus pink"), EditType::Local);
    }
}
