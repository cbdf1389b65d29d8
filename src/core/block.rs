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

/// The loops compiled for an x86-64 level: the same generic code under
/// `target_feature`, so the compiler vectorizes it with those instructions.
macro_rules! compiled_for {
    ($level:ident, $features:literal) => {
        #[cfg(target_arch = "x86_64")]
        mod $level {
            use super::Lane;

            #[target_feature(enable = $features)]
            pub(super) fn loop1<A: Copy, C: Copy>(a: Lane<'_, A>, out: &mut [C], f: impl Fn(A) -> C) {
                super::loop1(a, out, f)
            }

            #[target_feature(enable = $features)]
            pub(super) fn loop2<A: Copy, B: Copy, C: Copy>(
                a: Lane<'_, A>,
                b: Lane<'_, B>,
                out: &mut [C],
                f: impl Fn(A, B) -> C,
            ) {
                super::loop2(a, b, out, f)
            }

            #[target_feature(enable = $features)]
            pub(super) fn loop3<A: Copy, B: Copy, C: Copy, D: Copy>(
                a: Lane<'_, A>,
                b: Lane<'_, B>,
                c: Lane<'_, C>,
                out: &mut [D],
                f: impl Fn(A, B, C) -> D,
            ) {
                super::loop3(a, b, c, out, f)
            }
        }
    };
}
compiled_for!(v3, "avx,avx2,fma,bmi1,bmi2,lzcnt,movbe");
compiled_for!(v4, "avx,avx2,fma,bmi1,bmi2,lzcnt,movbe,avx512f,avx512bw,avx512cd,avx512dq,avx512vl");

/// Runs `$loop(args)` in the copy for this CPU's [`Level`](super::simd::Level).
macro_rules! dispatch {
    ($loop:ident($($arg:ident),*)) => {{
        #[cfg(target_arch = "x86_64")]
        match super::simd::level() {
            // SAFETY: `level` found every feature these copies are compiled for.
            super::simd::Level::X86V4 => return unsafe { v4::$loop($($arg),*) },
            // SAFETY: as above.
            super::simd::Level::X86V3 => return unsafe { v3::$loop($($arg),*) },
            super::simd::Level::Baseline => {}
        }
        $loop($($arg),*)
    }};
}

/// `out[i] = f(a[i])` for a block.
///
/// The loop is compiled for the widest vector instructions the CPU has
/// (AVX-512 or AVX2 on x86-64, chosen once at run time; see
/// [`simd::level`](super::simd::level)), so a
/// closure of plain arithmetic runs 16 (or 8) `f32` lanes at a time. Each
/// element is still `f` of its own operands: the results are the same bits
/// on every instruction set (no operations are fused or reordered).
///
/// ```
/// use rjax::core::{Lane, lanes1};
/// let mut out = [0i32; 2];
/// lanes1(Lane::Run(&[1, -2]), &mut out, |x: i32| -x);
/// assert_eq!(out, [-1, 2]);
/// ```
#[inline]
pub fn lanes1<A: Copy, C: Copy>(a: Lane<'_, A>, out: &mut [C], f: impl Fn(A) -> C) {
    dispatch!(loop1(a, out, f))
}

/// `out[i] = f(a[i], b[i])` for a block (vectorized as [`lanes1`] is).
///
/// ```
/// use rjax::core::{Lane, lanes2};
/// let mut out = [false; 2];
/// lanes2(Lane::Splat(1.5f64), Lane::Run(&[1.0, 2.0]), &mut out, |x, y| x < y);
/// assert_eq!(out, [false, true]);
/// ```
#[inline]
pub fn lanes2<A: Copy, B: Copy, C: Copy>(a: Lane<'_, A>, b: Lane<'_, B>, out: &mut [C], f: impl Fn(A, B) -> C) {
    dispatch!(loop2(a, b, out, f))
}

/// `out[i] = f(a[i], b[i], c[i])` for a block (vectorized as [`lanes1`] is).
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
    dispatch!(loop3(a, b, c, out, f))
}

// The loops themselves, one per combination of runs and splats so that each
// is a plain loop over slices that the compiler vectorizes. `inline(always)`:
// they are compiled inside each instruction set's copy (see `simd`).

#[inline(always)]
fn loop1<A: Copy, C: Copy>(a: Lane<'_, A>, out: &mut [C], f: impl Fn(A) -> C) {
    match a {
        Lane::Run(a) => out.iter_mut().zip(a).for_each(|(o, &x)| *o = f(x)),
        Lane::Splat(x) => out.fill(f(x)),
    }
}

#[inline(always)]
fn loop2<A: Copy, B: Copy, C: Copy>(a: Lane<'_, A>, b: Lane<'_, B>, out: &mut [C], f: impl Fn(A, B) -> C) {
    match (a, b) {
        (Lane::Run(a), Lane::Run(b)) => out.iter_mut().zip(a.iter().zip(b)).for_each(|(o, (&x, &y))| *o = f(x, y)),
        (Lane::Run(a), Lane::Splat(y)) => out.iter_mut().zip(a).for_each(|(o, &x)| *o = f(x, y)),
        (Lane::Splat(x), Lane::Run(b)) => out.iter_mut().zip(b).for_each(|(o, &y)| *o = f(x, y)),
        (Lane::Splat(x), Lane::Splat(y)) => out.fill(f(x, y)),
    }
}

#[inline(always)]
fn loop3<A: Copy, B: Copy, C: Copy, D: Copy>(
    a: Lane<'_, A>,
    b: Lane<'_, B>,
    c: Lane<'_, C>,
    out: &mut [D],
    f: impl Fn(A, B, C) -> D,
) {
    use Lane::{Run, Splat};
    match (a, b, c) {
        (Run(a), Run(b), Run(c)) => {
            out.iter_mut().zip(a.iter().zip(b.iter().zip(c))).for_each(|(o, (&x, (&y, &z)))| *o = f(x, y, z))
        }
        (Run(a), Run(b), Splat(z)) => out.iter_mut().zip(a.iter().zip(b)).for_each(|(o, (&x, &y))| *o = f(x, y, z)),
        (Run(a), Splat(y), Run(c)) => out.iter_mut().zip(a.iter().zip(c)).for_each(|(o, (&x, &z))| *o = f(x, y, z)),
        (Splat(x), Run(b), Run(c)) => out.iter_mut().zip(b.iter().zip(c)).for_each(|(o, (&y, &z))| *o = f(x, y, z)),
        (Run(a), Splat(y), Splat(z)) => out.iter_mut().zip(a).for_each(|(o, &x)| *o = f(x, y, z)),
        (Splat(x), Run(b), Splat(z)) => out.iter_mut().zip(b).for_each(|(o, &y)| *o = f(x, y, z)),
        (Splat(x), Splat(y), Run(c)) => out.iter_mut().zip(c).for_each(|(o, &z)| *o = f(x, y, z)),
        (Splat(x), Splat(y), Splat(z)) => out.fill(f(x, y, z)),
    }
}

#[cfg(test)]
mod tests {
    use super::{Lane, loop3};

    /// Values that rounding, NaN and infinity handling tell apart.
    fn awkward() -> Vec<f32> {
        let mut v =
            vec![0.0, -0.0, 1.0, -1.5, f32::MIN_POSITIVE / 4.0, f32::MAX, f32::INFINITY, f32::NEG_INFINITY, f32::NAN];
        v.extend((0..1000).map(|i| ((i as f32) * 0.7317).sin() * 10f32.powi(i % 9 - 4)));
        v
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn every_compiled_copy_gives_the_baseline_bits() {
        let a = awkward();
        let b: Vec<f32> = a.iter().rev().copied().collect();
        let c: Vec<bool> = a.iter().map(|x| x.to_bits() % 3 == 0).collect();
        let n = a.len();
        let ops = |level: u8| {
            let (mut o1, mut o2, mut o3, mut o4) = (vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; n]);
            let (ra, rb, rc) = (Lane::Run(&a[..]), Lane::Run(&b[..]), Lane::Run(&c[..]));
            let sqrt = |x: f32| x.sqrt();
            let div = |x: f32, y: f32| x / y;
            let muladd = |x: f32, y: f32| x * y + 1e-8;
            let select = |p: bool, x: f32, y: f32| if p { x } else { y };
            // the same four loops from the copy in module `$m`
            macro_rules! run_in {
                ($($m:tt)*) => {{
                    $($m)*::loop1(ra, &mut o1, sqrt);
                    $($m)*::loop2(ra, rb, &mut o2, div);
                    $($m)*::loop2(ra, Lane::Splat(0.999), &mut o3, muladd);
                    $($m)*::loop3(rc, ra, Lane::Splat(0.0), &mut o4, select);
                }};
            }
            match level {
                0 => run_in!(super),
                #[cfg(target_arch = "x86_64")]
                3 => unsafe { run_in!(super::v3) },
                #[cfg(target_arch = "x86_64")]
                4 => unsafe { run_in!(super::v4) },
                _ => unreachable!(),
            }
            [bits(&o1), bits(&o2), bits(&o3), bits(&o4)]
        };
        let baseline = ops(0);
        use crate::core::simd::{Level, level};
        if level() >= Level::X86V3 {
            assert_eq!(ops(3), baseline, "AVX2 copy");
        }
        if level() >= Level::X86V4 {
            assert_eq!(ops(4), baseline, "AVX-512 copy");
        }
        // the splat combinations of the three-operand loop agree with the runs
        let mut splats = vec![0.0f32; n];
        loop3(
            Lane::Splat(true),
            Lane::Run(&a[..]),
            Lane::Splat(2.0f32),
            &mut splats,
            |p: bool, x: f32, y: f32| if p { x } else { y },
        );
        assert_eq!(bits(&splats), bits(&a));
    }
}
