//! Fixed-width tables for the terminal: the first column left-aligned, the others right.

use std::fmt::Write;

/// Renders `header` and `rows`, each column as wide as its widest cell, two spaces apart.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            let _ = if i == 0 { write!(s, "{cell:<w$}") } else { write!(s, "  {cell:>w$}") };
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_align() {
        let t = super::render(&["model", "n"], &[vec!["teacher".into(), "21".into()], vec!["a".into(), "7".into()]]);
        assert_eq!(t, "model     n\nteacher  21\na         7\n");
    }
}
