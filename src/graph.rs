//! The deployment graph (in progress).
