//! NumPy-like printing of arrays.

use super::array::{Array, Repr};
use super::dtype::HostData;
use std::fmt;

fn float_text<T: Into<f64> + Copy + std::fmt::Display>(x: T) -> String {
    let v: f64 = x.into();
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf".into() } else { "-inf".into() }
    } else if v == v.trunc() && v.abs() < 1e16 {
        format!("{v:.0}.")
    } else {
        // the shortest text that reads back as the same value of the array's type
        format!("{x}")
    }
}

fn texts(h: &HostData) -> Vec<String> {
    match h {
        HostData::F32(a) => a.iter().map(|v| float_text(*v)).collect(),
        HostData::F64(a) => a.iter().map(|v| float_text(*v)).collect(),
        HostData::I32(a) => a.iter().map(|v| v.to_string()).collect(),
        HostData::U32(a) => a.iter().map(|v| v.to_string()).collect(),
        HostData::U8(a) => a.iter().map(|v| v.to_string()).collect(),
        HostData::Bool(a) => a.iter().map(|v| if *v { "True".into() } else { "False".into() }).collect(),
    }
}

fn nest(out: &mut String, items: &[String], shape: &[usize], depth: usize, width: usize) {
    if shape.is_empty() {
        out.push_str(&format!("{:>width$}", items[0]));
        return;
    }
    out.push('[');
    let stride: usize = shape[1..].iter().product();
    for i in 0..shape[0] {
        if i > 0 {
            if shape.len() == 1 {
                out.push(' ');
            } else {
                out.push_str(&"\n".repeat(shape.len() - 1));
                out.push_str(&" ".repeat(depth + 1));
            }
        }
        nest(out, &items[i * stride..(i + 1) * stride], &shape[1..], depth + 1, width);
    }
    out.push(']');
}

/// Prints like NumPy: `[[1. 2.]\n [3. 4.]]`; an abstract array prints as `Traced<f32[2,2]>`.
impl fmt::Display for Array {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.repr {
            Repr::Traced(t) => write!(f, "Traced<{}>", t.aval),
            Repr::Device(d) if d.read().is_err() => write!(f, "<{} on {}, not readable>", d.aval(), d.place()),
            Repr::Concrete(_) | Repr::Device(_) => {
                let h = self.host("printing");
                let items = texts(h);
                let width = items.iter().map(|s| s.len()).max().unwrap_or(0);
                let mut out = String::new();
                nest(&mut out, &items, h.shape(), 0, width);
                f.write_str(&out)
            }
        }
    }
}
