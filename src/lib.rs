//! jxjy-bot: answers Jiangxi teachers' continuing-education questions from a
//! knowledge base built from the official guide.
//!
//! Map of the modules:
//! - [`knowledge`]: loads `knowledge/` (facts, FAQ, lexicon), renders answers.
//! - [`text`]: normalisation, typo and synonym rewriting, segmentation.
//! - [`matcher`]: scores a question against the FAQ and decides.
//! - [`dialogue`]: reply texts and buttons shared by every front end.
//! - [`check`]: `kb check`, validation of a knowledge directory.
//! - [`error`]: typed errors of the library.

pub mod check;
pub mod dialogue;
pub mod error;
pub mod knowledge;
pub mod matcher;
pub mod text;
