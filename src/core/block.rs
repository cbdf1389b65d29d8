//! Blocks: what an elementwise primitive computes on when the built-in backend
//! runs a fused chain of them ([`Primitive::eval_block`](super::Primitive::eval_block)).
//!
//! A block is a run of consecutive elements (in row-major order) of each
//! operand and of the result. An operand that is the same value everywhere in
//! the block (a broadcast scalar) is passed as that one value, a [`Lane::Splat`],
//! so a fused chain never fills an array with copies of a scalar.

/// One operand of a block: a run of values, or one value standing for every
/// element of the block.
///
/// ```
/// use rjax::core::{Lane, lanes2};
/// let mut out = [0.0f32; 3];
/// lanes2(Lane::Run(&[1.0, 2.0, 3.0]), Lane::Splat(10.0), &mut out, |x, y| x * y);
/// assert_eq!(out, [10.0, 20.0, 30.0]);
/// ```
#[derive(Clone, Copy, Debug)]
pub enum Lane<'a, T> {
    /// Consecutive values, as many as the block has elements.
    Run(&'a [T]),
    /// One value for every element.
    Splat(T),
}

impl<T: Copy> Lane<'_, T> {
    /// Element `i` of the block.
    ///
    /// ```
    /// use rjax::core::Lane;
    /// assert_eq!(Lane::Run(&[1, 2]).get(1), 2);
    /// assert_eq!(Lane::Splat(7).get(5), 7);
    /// ```
    #[inline]
    pub fn get(&self, i: usize) -> T {
        match self {
            Lane::Run(s) => s[i],
            Lane::Splat(v) => *v,
        }
    }
}

macro_rules! blocks {
    ($($v:ident: $t:ty),*) => {
        /// An operand block of any dtype (the variants are the [`HostData`](super::HostData) ones).
        ///
        /// ```
        /// use rjax::core::{Block, Lane};
        /// let b = Block::F32(Lane::Splat(1.0));
        /// assert!(matches!(b, Block::F32(Lane::Splat(_))));
        /// ```
        #[derive(Clone, Copy, Debug)]
        #[allow(missing_docs)]
        pub enum Block<'a> {
            $($v(Lane<'a, $t>),)*
        }

        /// The result block of any dtype, to be filled.
        ///
        /// ```
        /// use rjax::core::BlockMut;
        /// let mut out = [0u8; 2];
        /// let b = BlockMut::U8(&mut out);
        /// assert!(matches!(b, BlockMut::U8(o) if o.len() == 2));
        /// ```
        #[derive(Debug)]
        #[allow(missing_docs)]
        pub enum BlockMut<'a> {
            $($v(&'a mut [$t]),)*
        }
    };
}
blocks!(F32: f32, F64: f64, I32: i32, U32: u32, U8: u8, Bool: bool);

/// `out[i] = f(a[i])` for a block.
///
/// ```
/// use rjax::core::{Lane, lanes1};
/// let mut out = [0i32; 2];
/// lanes1(Lane::Run(&[1, -2]), &mut out, |x: i32| -x);
/// assert_eq!(out, [-1, 2]);
/// ```
#[inline]
pub fn lanes1<A: Copy, C: Copy>(a: Lane<'_, A>, out: &mut [C], f: impl Fn(A) -> C) {
    match a {
        Lane::Run(a) => out.iter_mut().zip(a).for_each(|(o, &x)| *o = f(x)),
        Lane::Splat(x) => out.fill(f(x)),
    }
}

/// `out[i] = f(a[i], b[i])` for a block.
///
/// ```
/// use rjax::core::{Lane, lanes2};
/// let mut out = [false; 2];
/// lanes2(Lane::Splat(1.5f64), Lane::Run(&[1.0, 2.0]), &mut out, |x, y| x < y);
/// assert_eq!(out, [false, true]);
/// ```
#[inline]
pub fn lanes2<A: Copy, B: Copy, C: Copy>(a: Lane<'_, A>, b: Lane<'_, B>, out: &mut [C], f: impl Fn(A, B) -> C) {
    match (a, b) {
        (Lane::Run(a), Lane::Run(b)) => out.iter_mut().zip(a.iter().zip(b)).for_each(|(o, (&x, &y))| *o = f(x, y)),
        (Lane::Run(a), Lane::Splat(y)) => out.iter_mut().zip(a).for_each(|(o, &x)| *o = f(x, y)),
        (Lane::Splat(x), Lane::Run(b)) => out.iter_mut().zip(b).for_each(|(o, &y)| *o = f(x, y)),
        (Lane::Splat(x), Lane::Splat(y)) => out.fill(f(x, y)),
    }
}

/// `out[i] = f(a[i], b[i], c[i])` for a block.
///
/// ```
/// use rjax::core::{Lane, lanes3};
/// let mut out = [0.0f32; 2];
/// lanes3(Lane::Run(&[true, false]), Lane::Splat(1.0f32), Lane::Run(&[5.0, 6.0]), &mut out, |p, x, y| if p { x } else { y });
/// assert_eq!(out, [1.0, 6.0]);
/// ```
#[inline]
pub fn lanes3<A: Copy, B: Copy, C: Copy, D: Copy>(
    a: Lane<'_, A>,
    b: Lane<'_, B>,
    c: Lane<'_, C>,
    out: &mut [D],
    f: impl Fn(A, B, C) -> D,
) {
    match (a, b, c) {
        (Lane::Run(a), Lane::Run(b), Lane::Run(c)) => {
            out.iter_mut().zip(a.iter().zip(b.iter().zip(c))).for_each(|(o, (&x, (&y, &z)))| *o = f(x, y, z))
        }
        (a, b, c) => {
            for (i, o) in out.iter_mut().enumerate() {
                *o = f(a.get(i), b.get(i), c.get(i));
            }
        }
    }
}
