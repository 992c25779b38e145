//! What a capture backend provides: the screens it sees and a capture of one. The
//! platform backends (`x11`, `portal`, `xcap_source`) and the tests' stand-ins implement
//! [`Source`]; `backend` picks one.

/// Where frames come from: a real display, or a stand-in in tests.
pub trait Source: Send + Sync + 'static {
    /// `(width, height)` of each display, primary first; `(0, 0)` where the size is known
    /// only after a capture (the portal).
    fn monitors(&self) -> Result<Vec<(u32, u32)>, String>;
    /// Captures display `index` as RGBA.
    fn capture(&self, index: usize) -> Result<image::RgbaImage, String>;
}
