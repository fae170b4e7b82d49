//! The weekly training report (being written).
