//! `erf` and `erf_inv` from plain StableHLO arithmetic (CHLO's `erf` is not
//! available in a StableHLO text module).
//!
//! - `erf` is FreeBSD's `s_erf.c`/`s_erff.c` (what the `libm` crate, and so
//!   the CPU backend, computes), branch for branch with the same coefficients
//!   and the same order of operations, each branch computed everywhere and the
//!   right one selected. Only `exp` differs (XLA's instead of libm's).
//! - `erf_inv` is the CPU backend's algorithm: Giles' single-precision
//!   approximation refined by two Newton steps on `erf(y) = x`, in f64 (f32
//!   inputs are converted, as on the CPU).

use super::{LowerError, Lowering, Value};
use crate::core::DType;
use crate::core::numeric::{GILES_CENTRAL, GILES_TAIL};

/// The coefficients of one precision of FreeBSD's erf.
struct ErfCoeffs {
    erx: f64,
    efx8: f64,
    pp: [f64; 5],
    qq: [f64; 6],
    pa: [f64; 7],
    qa: [f64; 7],
    ra: [f64; 8],
    sa: [f64; 9],
    rb: [f64; 7],
    sb: [f64; 8],
    /// `|x| < 1/0.35` as FreeBSD tests it (on the high word).
    ra_limit: f64,
    /// Significant mantissa bits kept in `z` (the truncation of `|x|`).
    z_bits: i32,
}

/// FreeBSD's f64 coefficients, verbatim.
#[allow(clippy::excessive_precision)]
const ERF64: ErfCoeffs = ErfCoeffs {
    erx: 8.45062911510467529297e-01,
    efx8: 1.02703333676410069053e+00,
    pp: [
        1.28379167095512558561e-01,
        -3.25042107247001499370e-01,
        -2.84817495755985104766e-02,
        -5.77027029648944159157e-03,
        -2.37630166566501626084e-05,
    ],
    qq: [
        1.0,
        3.97917223959155352819e-01,
        6.50222499887672944485e-02,
        5.08130628187576562776e-03,
        1.32494738004321644526e-04,
        -3.96022827877536812320e-06,
    ],
    pa: [
        -2.36211856075265944077e-03,
        4.14856118683748331666e-01,
        -3.72207876035701323847e-01,
        3.18346619901161753674e-01,
        -1.10894694282396677476e-01,
        3.54783043256182359371e-02,
        -2.16637559486879084300e-03,
    ],
    qa: [
        1.0,
        1.06420880400844228286e-01,
        5.40397917702171048937e-01,
        7.18286544141962662868e-02,
        1.26171219808761642112e-01,
        1.36370839120290507362e-02,
        1.19844998467991074170e-02,
    ],
    ra: [
        -9.86494403484714822705e-03,
        -6.93858572707181764372e-01,
        -1.05586262253232909814e+01,
        -6.23753324503260060396e+01,
        -1.62396669462573470355e+02,
        -1.84605092906711035994e+02,
        -8.12874355063065934246e+01,
        -9.81432934416914548592e+00,
    ],
    sa: [
        1.0,
        1.96512716674392571292e+01,
        1.37657754143519042600e+02,
        4.34565877475229228821e+02,
        6.45387271733267880336e+02,
        4.29008140027567833386e+02,
        1.08635005541779435134e+02,
        6.57024977031928170135e+00,
        -6.04244152148580987438e-02,
    ],
    rb: [
        -9.86494292470009928597e-03,
        -7.99283237680523006574e-01,
        -1.77579549177547519889e+01,
        -1.60636384855821916062e+02,
        -6.37566443368389627722e+02,
        -1.02509513161107724954e+03,
        -4.83519191608651397019e+02,
    ],
    sb: [
        1.0,
        3.03380607434824582924e+01,
        3.25792512996573918826e+02,
        1.53672958608443695994e+03,
        3.19985821950859553908e+03,
        2.55305040643316442583e+03,
        4.74528541206955367215e+02,
        -2.24409524465858183362e+01,
    ],
    ra_limit: f64::from_bits(0x4006_db6d_0000_0000), // FreeBSD compares the high word
    z_bits: 20,
};

/// f32 coefficients, written as f32 literals (so each is the f32 FreeBSD uses)
/// and widened exactly.
macro_rules! f32s {
    ($($v:expr),* $(,)?) => { [$($v as f32 as f64),*] };
}

#[allow(clippy::excessive_precision)]
const ERF32: ErfCoeffs = ErfCoeffs {
    erx: 8.4506291151e-01f32 as f64,
    efx8: 1.0270333290e+00f32 as f64,
    pp: f32s![
        1.2837916613e-01f32,
        -3.2504209876e-01f32,
        -2.8481749818e-02f32,
        -5.7702702470e-03f32,
        -2.3763017452e-05f32
    ],
    qq: f32s![
        1.0f32,
        3.9791721106e-01f32,
        6.5022252500e-02f32,
        5.0813062117e-03f32,
        1.3249473704e-04f32,
        -3.9602282413e-06f32
    ],
    pa: f32s![
        -2.3621185683e-03f32,
        4.1485610604e-01f32,
        -3.7220788002e-01f32,
        3.1834661961e-01f32,
        -1.1089469492e-01f32,
        3.5478305072e-02f32,
        -2.1663755178e-03f32,
    ],
    qa: f32s![
        1.0f32,
        1.0642088205e-01f32,
        5.4039794207e-01f32,
        7.1828655899e-02f32,
        1.2617121637e-01f32,
        1.3637083583e-02f32,
        1.1984500103e-02f32,
    ],
    ra: f32s![
        -9.8649440333e-03f32,
        -6.9385856390e-01f32,
        -1.0558626175e+01f32,
        -6.2375331879e+01f32,
        -1.6239666748e+02f32,
        -1.8460508728e+02f32,
        -8.1287437439e+01f32,
        -9.8143291473e+00f32,
    ],
    sa: f32s![
        1.0f32,
        1.9651271820e+01f32,
        1.3765776062e+02f32,
        4.3456588745e+02f32,
        6.4538726807e+02f32,
        4.2900814819e+02f32,
        1.0863500214e+02f32,
        6.5702495575e+00f32,
        -6.0424413532e-02f32,
    ],
    rb: f32s![
        -9.8649431020e-03f32,
        -7.9928326607e-01f32,
        -1.7757955551e+01f32,
        -1.6063638306e+02f32,
        -6.3756646729e+02f32,
        -1.0250950928e+03f32,
        -4.8351919556e+02f32,
    ],
    sb: f32s![
        1.0f32,
        3.0338060379e+01f32,
        3.2579251099e+02f32,
        1.5367296143e+03f32,
        3.1998581543e+03f32,
        2.5530502930e+03f32,
        4.7452853394e+02f32,
        -2.2440952301e+01f32,
    ],
    ra_limit: f32::from_bits(0x4036_db6d) as f64,
    z_bits: 10,
};

/// Elementwise arithmetic on values of one aval, with constants of that aval.
struct Ew<'a> {
    cx: &'a mut Lowering,
}

impl Ew<'_> {
    fn k(&mut self, v: f64, like: &Value) -> Value {
        self.cx.like(v, like)
    }
    fn add(&mut self, a: &Value, b: &Value) -> Value {
        self.cx.binary("stablehlo.add", a, b)
    }
    fn sub(&mut self, a: &Value, b: &Value) -> Value {
        self.cx.binary("stablehlo.subtract", a, b)
    }
    fn mul(&mut self, a: &Value, b: &Value) -> Value {
        self.cx.binary("stablehlo.multiply", a, b)
    }
    fn div(&mut self, a: &Value, b: &Value) -> Value {
        self.cx.binary("stablehlo.divide", a, b)
    }
    fn un(&mut self, name: &str, a: &Value) -> Value {
        self.cx.unary(name, a)
    }
    /// `c + x * v` with a constant `c`.
    fn c_plus_mul(&mut self, c: f64, x: &Value, v: &Value) -> Value {
        let c = self.k(c, x);
        let p = self.mul(x, v);
        self.add(&c, &p)
    }
    /// `c[0] + z*(c[1] + z*(... + z*c[n]))`, FreeBSD's order of operations.
    fn horner(&mut self, c: &[f64], z: &Value) -> Value {
        let n = c.len() - 1;
        let mut t = self.k(c[n], z);
        for &ci in c[..n].iter().rev() {
            t = self.c_plus_mul(ci, z, &t);
        }
        t
    }
    /// `a < c` with a constant `c`.
    fn lt_k(&mut self, a: &Value, c: f64) -> Value {
        let k = self.k(c, a);
        self.cx.compare("LT", a, &k)
    }
    fn select(&mut self, p: &Value, a: &Value, b: &Value) -> Value {
        self.cx.select(p, a, b)
    }
}

/// `erf(x)` for f32 or f64 `x` (see the module documentation).
pub(crate) fn erf(cx: &mut Lowering, x: &Value) -> Result<Value, LowerError> {
    let c = match x.aval.dtype {
        DType::F32 => &ERF32,
        DType::F64 => &ERF64,
        other => return Err(LowerError::new(format!("erf of {other}"))),
    };
    let mut e = Ew { cx };
    let ax = e.un("stablehlo.abs", x);

    // |x| < 0.84375: x + x * pp(z) / qq(z), z = x * x; below 2^-28, x + efx * x
    let z = e.mul(x, x);
    let r = e.horner(&c.pp, &z);
    let s = e.horner(&c.qq, &z);
    let y = e.div(&r, &s);
    let xy = e.mul(x, &y);
    let small = e.add(x, &xy);
    let eighth = e.k(0.125, x);
    let eight = e.k(8.0, x);
    let efx8 = e.k(c.efx8, x);
    let x8 = e.mul(&eight, x);
    let ex = e.mul(&efx8, x);
    let t = e.add(&x8, &ex);
    let tiny = e.mul(&eighth, &t);
    let is_tiny = e.lt_k(&ax, 2f64.powi(-28));
    let small = e.select(&is_tiny, &tiny, &small);

    // 0.84375 <= |x| < 1.25: 1 - ((1 - erx) - pa(s) / qa(s)), s = |x| - 1
    let one = e.k(1.0, x);
    let s1 = e.sub(&ax, &one);
    let p = e.horner(&c.pa, &s1);
    let q = e.horner(&c.qa, &s1);
    let pq = e.div(&p, &q);
    let one_m_erx = e.k(1.0 - c.erx, x);
    let erfc1 = e.sub(&one_m_erx, &pq);
    let mid = e.sub(&one, &erfc1);

    // 1.25 <= |x| < 6: 1 - exp(-z*z - 0.5625) * exp((z - |x|)(z + |x|) + R/S) / |x|,
    // z = |x| truncated to `z_bits` mantissa bits (exactly: |x| < 8 here)
    let xx = e.mul(&ax, &ax);
    let s2 = e.div(&one, &xx);
    let ra = e.horner(&c.ra, &s2);
    let sa = e.horner(&c.sa, &s2);
    let rb = e.horner(&c.rb, &s2);
    let sb = e.horner(&c.sb, &s2);
    let use_a = e.lt_k(&ax, c.ra_limit);
    let rr = e.select(&use_a, &ra, &rb);
    let ss = e.select(&use_a, &sa, &sb);
    let lt2 = e.lt_k(&ax, 2.0);
    let lt4 = e.lt_k(&ax, 4.0);
    let zb = c.z_bits;
    let (s_hi, s_mid, s_lo) = (e.k(2f64.powi(zb), x), e.k(2f64.powi(zb - 1), x), e.k(2f64.powi(zb - 2), x));
    let (i_hi, i_mid, i_lo) = (e.k(2f64.powi(-zb), x), e.k(2f64.powi(1 - zb), x), e.k(2f64.powi(2 - zb), x));
    let scale_up = e.select(&lt4, &s_mid, &s_lo);
    let scale = e.select(&lt2, &s_hi, &scale_up);
    let inv_up = e.select(&lt4, &i_mid, &i_lo);
    let inv = e.select(&lt2, &i_hi, &inv_up);
    let scaled = e.mul(&ax, &scale);
    let fl = e.un("stablehlo.floor", &scaled);
    let zt = e.mul(&fl, &inv);
    let nz = e.un("stablehlo.negate", &zt);
    let zz = e.mul(&nz, &zt);
    let k5625 = e.k(0.5625, x);
    let a1 = e.sub(&zz, &k5625);
    let e1 = e.un("stablehlo.exponential", &a1);
    let zmx = e.sub(&zt, &ax);
    let zpx = e.add(&zt, &ax);
    let prod = e.mul(&zmx, &zpx);
    let rs = e.div(&rr, &ss);
    let a2 = e.add(&prod, &rs);
    let e2 = e.un("stablehlo.exponential", &a2);
    let ee = e.mul(&e1, &e2);
    let erfc2 = e.div(&ee, &ax);
    let big = e.sub(&one, &erfc2);

    // |x| >= 6: 1 (1 - tiny rounds to 1); the sign of x outside the first branch
    let lt125 = e.lt_k(&ax, 1.25);
    let lt6 = e.lt_k(&ax, 6.0);
    let far = e.select(&lt6, &big, &one);
    let pos = e.select(&lt125, &mid, &far);
    let neg = e.un("stablehlo.negate", &pos);
    let zero = e.k(0.0, x);
    let is_neg = e.cx.compare("LT", x, &zero);
    let signed = e.select(&is_neg, &neg, &pos);
    let is_small = e.lt_k(&ax, 0.84375);
    let y = e.select(&is_small, &small, &signed);
    let nan = e.cx.is_nan(x);
    Ok(e.select(&nan, x, &y))
}

/// `p = c[0]; p = c[i] + p * w` for the rest, the CPU backend's order.
fn giles(e: &mut Ew, c: &[f64], w: &Value) -> Value {
    let mut p = e.k(c[0], w);
    for &ci in &c[1..] {
        p = e.c_plus_mul(ci, &p, w);
    }
    p
}

/// `erf_inv(x)` for f32 or f64 `x`: NaN outside [-1, 1], ±inf at ±1.
pub(crate) fn erf_inv(cx: &mut Lowering, x: &Value) -> Result<Value, LowerError> {
    let dtype = x.aval.dtype;
    if !dtype.is_float() {
        return Err(LowerError::new(format!("erf_inv of {dtype}")));
    }
    let x = cx.convert_raw(x, DType::F64);
    let mut e = Ew { cx };
    let one = e.k(1.0, &x);
    let a = e.sub(&one, &x);
    let b = e.add(&one, &x);
    let ab = e.mul(&a, &b);
    let l = e.un("stablehlo.log", &ab);
    let w = e.un("stablehlo.negate", &l);
    let k25 = e.k(2.5, &x);
    let w1 = e.sub(&w, &k25);
    let p1 = giles(&mut e, &GILES_CENTRAL, &w1);
    let sw = e.un("stablehlo.sqrt", &w);
    let k3 = e.k(3.0, &x);
    let w2 = e.sub(&sw, &k3);
    let p2 = giles(&mut e, &GILES_TAIL, &w2);
    let central = e.lt_k(&w, 5.0);
    let p = e.select(&central, &p1, &p2);
    let mut y = e.mul(&p, &x);
    for _ in 0..2 {
        let f = erf(e.cx, &y)?;
        let err = e.sub(&f, &x);
        let ny = e.un("stablehlo.negate", &y);
        let nyy = e.mul(&ny, &y);
        let ex = e.un("stablehlo.exponential", &nyy);
        let c = e.k(std::f64::consts::FRAC_2_SQRT_PI, &x);
        let d = e.mul(&c, &ex);
        let step = e.div(&err, &d);
        y = e.sub(&y, &step);
    }
    // the special values
    let ax = e.un("stablehlo.abs", &x);
    let inside = e.cx.compare("LE", &ax, &one);
    let nan = e.k(f64::NAN, &x);
    let r = e.select(&inside, &y, &nan);
    let is_one = e.cx.compare("EQ", &x, &one);
    let inf = e.k(f64::INFINITY, &x);
    let r = e.select(&is_one, &inf, &r);
    let m1 = e.k(-1.0, &x);
    let is_m1 = e.cx.compare("EQ", &x, &m1);
    let ninf = e.k(f64::NEG_INFINITY, &x);
    let r = e.select(&is_m1, &ninf, &r);
    Ok(e.cx.convert_raw(&r, dtype))
}
