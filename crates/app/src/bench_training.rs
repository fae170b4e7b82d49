//! `openzero bench training` (being written).
