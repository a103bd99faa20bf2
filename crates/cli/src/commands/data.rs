//! `rewardedit data check FORMAT:PATH`: read a collection, count it per edit type, list bad items.

use anyhow::Result;
use clap::Subcommand;
use rewardedit_core::formats::{self, CheckOptions, FormatSpec};

use crate::exit::InputContext;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Read a collection and print counts per edit type and any bad items.
    ///
    /// FORMAT is one of manifest, rewardedit20k, imagefolder, real-edit; for example
    /// `real-edit:../shared/real-edit` or `manifest:runs/world/manifest.jsonl`.
    Check {
        /// The collection, as FORMAT:PATH.
        spec: String,
        /// List bad items and go on, instead of stopping at the first.
        #[arg(long)]
        skip_bad: bool,
        /// Read image headers only (faster; misses truncated files).
        #[arg(long)]
        headers_only: bool,
    },
}

pub fn run(cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::Check { spec, skip_bad, headers_only } => {
            let spec: FormatSpec = spec.parse().bad_input()?;
            let options = CheckOptions { skip_bad, verify_images: !headers_only, ..CheckOptions::default() };
            // Anything wrong with the collection is the user's data: exit 2, naming the item.
            let report = formats::check(&spec, &options).map_err(|e| {
                crate::exit::bad_input(format!("{e}\n(pass --skip-bad to list every bad item and go on)"))
            })?;
            print!("{report}");
            Ok(())
        }
    }
}
