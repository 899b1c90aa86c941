//! Which operations of the table a gateway exposes.

use crate::table::Tool;
use crate::tools::TOOLS;

/// The tag of the default surface: the Order Management Captures
/// operations, the seven tools of the Captures capability.
pub const DEFAULT_TAG: &str = "Captures";

/// A choice of tools.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Surface {
    /// Every operation whose client trait (the spec's tag, as
    /// `PascalCase`: `Captures`, `Refunds`, `PaymentRequests`) is listed.
    Tags(Vec<String>),
    /// Every operation of every API.
    All,
}

impl Default for Surface {
    fn default() -> Self {
        Surface::Tags(vec![DEFAULT_TAG.to_owned()])
    }
}

impl Surface {
    /// The tools, in table order. A tag that names no operation is an
    /// error, so a typo does not start a gateway with fewer tools than meant.
    pub fn tools(&self) -> Result<Vec<&'static Tool>, String> {
        match self {
            Surface::All => Ok(TOOLS.iter().collect()),
            Surface::Tags(tags) => {
                for tag in tags {
                    if !TOOLS.iter().any(|t| t.tag.eq_ignore_ascii_case(tag)) {
                        return Err(format!(
                            "no operation has the tag `{tag}`; known tags: {}",
                            known_tags().join(", ")
                        ));
                    }
                }
                Ok(TOOLS
                    .iter()
                    .filter(|t| tags.iter().any(|tag| t.tag.eq_ignore_ascii_case(tag)))
                    .collect())
            }
        }
    }
}

/// Every tag of the table, once, in table order.
pub fn known_tags() -> Vec<&'static str> {
    let mut tags: Vec<&'static str> = Vec::new();
    for tool in TOOLS {
        if !tags.contains(&tool.tag) {
            tags.push(tool.tag);
        }
    }
    tags
}
