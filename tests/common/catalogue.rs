//! The primitive catalogue: one row per primitive in `src/primitives`, which
//! every rule-test file iterates, so that a new primitive cannot skip a rule
//! test.
//!
//! - tests/catalogue.rs reads the source of `src/primitives` and fails naming
//!   any primitive missing from [`PRIMITIVES`] (or any row naming none);
//! - each rule-test file (finite_diff, vmap, xla_parity, stablehlo_text)
//!   runs a generic test over the rows it can handle alone (the elementwise
//!   ones, through [`Entry::apply`] and [`Entry::values`] or
//!   [`Entry::domain`]); every other row names, in [`Entry::tests`], the
//!   dedicated tests that cover it in that file (or `other.rs::test` in
//!   another file), and the file's `every_primitive_is_covered` calls
//!   [`assert_covered`], which fails naming any row that the file neither
//!   tests generically nor names a test for, any named test that does not
//!   exist (a `#[test]` function of that name), and any named test whose body
//!   never calls the primitive (one of [`Entry::api`]).

use super::Gen;
use rjax::{Array, DType, lax, numpy as jnp};

pub type Un = fn(&Array) -> Array;
pub type Bin = fn(&Array, &Array) -> Array;
pub type Tern = fn(&Array, &Array, &Array) -> Array;

/// How a generic test applies a primitive.
#[derive(Clone, Copy, Debug)]
pub enum Apply {
    /// Elementwise on operands of one shape and dtype (`select`'s predicate is bool).
    Unary(Un),
    Binary(Bin),
    Ternary(Tern),
    /// Takes parameters (axes, shapes, a body...): only dedicated tests apply it.
    Dedicated,
}

/// Whether and how derivatives flow through a primitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Diff {
    /// Smooth on its domain: finite differences check jvp and vjp.
    Smooth,
    /// Linear in its float operands (so its vjp is its transpose).
    Linear,
    /// Piecewise constant (floor, sign...): derivative zero away from the jumps.
    PiecewiseConstant,
    /// The derivative is zero by definition (`stop_gradient`): a dedicated test.
    Blocked,
    /// Integer, bool or PRNG results: no derivative rule to check.
    None,
}

impl Diff {
    /// True when finite differences can check the rule on the domain.
    pub fn checkable(self) -> bool {
        matches!(self, Diff::Smooth | Diff::Linear | Diff::PiecewiseConstant)
    }
}

/// Where one operand's values are drawn. The sampler ([`sample`]) gives each
/// variant a meaning for every dtype the primitive accepts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Domain {
    /// Floats uniform in `[lo, hi)`; integers uniform in `[ceil lo, floor hi]`
    /// (from 0 for unsigned types); bools at random.
    Real(f64, f64),
    /// `|x|` uniform in `[lo, hi)` with a random sign (integers: `|x| >= 1`).
    AwayFromZero(f64, f64),
    /// `n + f` with `n` in [-3, 3) and `f` in [0.1, 0.4] or [0.6, 0.9]: away
    /// from the jumps of floor, ceil, round and sign.
    OffGrid,
    /// `n + off + [0, 0.1)` with `n` in [-3, 3): operands snapped to offsets
    /// 0.2 and 0.7 are never within 0.4 of each other (max, min).
    Snapped(f64),
    /// The next operand times `±(k + [0.1, 0.9))`, `k` in 0..4: a quotient
    /// at least 0.1 away from an integer (rem's jumps).
    Quotient,
    /// Integers in [-2, 2] (unsigned [0, 4]; floats integer-valued) so that
    /// ties and equalities happen.
    Ties,
    /// Pairwise distinct values (no ties for max, min, sort).
    Distinct,
    /// Any bit pattern of an integer type; any bool.
    Bits,
    /// A shift amount in `[0, bits + 8)`: shifts of the bit width or more included.
    ShiftAmount,
    /// A bool predicate.
    Pred,
    /// Integer indices, some out of range (clamped).
    Index,
    /// A PRNG key `u32[..., 8]` and stream `u32[..., 2]`.
    Key,
    /// Operands chosen by the dedicated tests (bodies, trees of carries...).
    Any,
}

impl Domain {
    /// Integer-valued samples ([`Domain::Ties`]) stay inside this domain.
    fn admits_ties(self) -> bool {
        matches!(self, Domain::Real(lo, hi) if lo <= -2.0 && hi >= 2.0)
    }
}

/// The rule-test files that iterate the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum File {
    FiniteDiff,
    Vmap,
    XlaParity,
    StablehloText,
}

impl File {
    pub fn name(self) -> &'static str {
        match self {
            File::FiniteDiff => "finite_diff.rs",
            File::Vmap => "vmap.rs",
            File::XlaParity => "xla_parity.rs",
            File::StablehloText => "stablehlo_text.rs",
        }
    }
}

/// The dedicated tests covering a primitive, per file: `name` is a `#[test]`
/// function of that file, `other.rs::name` one of `tests/other.rs`.
#[derive(Clone, Copy, Debug)]
pub struct Tests {
    pub finite_diff: &'static [&'static str],
    pub vmap: &'static [&'static str],
    pub xla_parity: &'static [&'static str],
    pub stablehlo_text: &'static [&'static str],
}

const NO_TESTS: Tests = Tests { finite_diff: &[], vmap: &[], xla_parity: &[], stablehlo_text: &[] };

impl Tests {
    pub fn of(&self, f: File) -> &'static [&'static str] {
        match f {
            File::FiniteDiff => self.finite_diff,
            File::Vmap => self.vmap,
            File::XlaParity => self.xla_parity,
            File::StablehloText => self.stablehlo_text,
        }
    }
}

/// One primitive.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// As `Primitive::name` (or `MultiPrimitive::name`) returns it.
    pub name: &'static str,
    /// The functions that bind it (`rjax::lax`, plus numpy wrappers the
    /// dedicated tests call); a dedicated test must call one of them.
    pub api: &'static [&'static str],
    /// Array operands; `None` for a variable number (concatenate, control flow).
    pub arity: Option<usize>,
    /// The dtypes it accepts (of the operands after a bool predicate).
    pub dtypes: &'static [DType],
    /// Per operand: where derivative checks draw values (smooth there).
    pub domain: &'static [Domain],
    /// Per operand: where value checks (vmap, XLA parity) draw values.
    pub values: &'static [Domain],
    pub diff: Diff,
    pub apply: Apply,
    /// StableHLO operations its lowering emits (asserted by stablehlo_text).
    pub hlo: &'static [&'static str],
    /// Ulps by which XLA's CPU result may differ (0: bit for bit); used by
    /// stablehlo_text's optional numerical dump.
    pub ulps: u32,
    pub tests: Tests,
}

const F: &[DType] = &[DType::F32, DType::F64];
const NUM: &[DType] = &[DType::F32, DType::F64, DType::I32, DType::U32, DType::U8];
const ALL: &[DType] = &[DType::F32, DType::F64, DType::I32, DType::U32, DType::U8, DType::Bool];
const BOOL_INT: &[DType] = &[DType::Bool, DType::I32, DType::U32, DType::U8];
const INT: &[DType] = &[DType::I32, DType::U32, DType::U8];
/// Every dtype but bool and u8 (dot_general).
const DOT: &[DType] = &[DType::F32, DType::F64, DType::I32, DType::U32];

use Domain::*;

/// A row of one operand, f32/f64 (other fields are overridden with
/// `Entry { dtypes: ..., ..unary_row!(...) }`): derivative domain `[lo, hi)`,
/// value domain `[vlo, vhi)`.
macro_rules! unary_row {
    ($name:literal, $f:path, $lo:expr, $hi:expr, values: $vlo:expr, $vhi:expr, $diff:ident, $hlo:expr, ulps: $ulps:expr) => {
        Entry {
            name: $name,
            api: &[$name],
            arity: Some(1),
            dtypes: F,
            domain: &[Real($lo, $hi)],
            values: &[Real($vlo, $vhi)],
            diff: Diff::$diff,
            apply: Apply::Unary($f),
            hlo: $hlo,
            ulps: $ulps,
            tests: NO_TESTS,
        }
    };
}

/// A primitive of two operands with no derivative (comparisons, bitwise ops, shifts).
macro_rules! nondiff_row {
    ($name:literal, $f:path, $dtypes:expr, $values:expr, $hlo:literal) => {
        Entry {
            name: $name,
            api: &[$name],
            arity: Some(2),
            dtypes: $dtypes,
            domain: $values,
            values: $values,
            diff: Diff::None,
            apply: Apply::Binary($f),
            hlo: &[$hlo],
            ulps: 0,
            tests: NO_TESTS,
        }
    };
}

/// A primitive with parameters, covered by dedicated tests only.
macro_rules! dedicated {
    ($name:literal, api: $api:expr, arity: $arity:expr, $dtypes:expr, domain: $domain:expr, $diff:ident,
     hlo: $hlo:expr, tests: $fd:expr, $vmap:expr, $xla:expr, $text:expr) => {
        Entry {
            name: $name,
            api: $api,
            arity: $arity,
            dtypes: $dtypes,
            domain: $domain,
            values: $domain,
            diff: Diff::$diff,
            apply: Apply::Dedicated,
            hlo: $hlo,
            ulps: 0,
            tests: Tests { finite_diff: $fd, vmap: $vmap, xla_parity: $xla, stablehlo_text: $text },
        }
    };
}

const CMP: &[Domain] = &[Ties, Ties];
const BITS: &[Domain] = &[Bits, Bits];
const SHIFT: &[Domain] = &[Bits, ShiftAmount];
const WIDE2: &[Domain] = &[Real(-40.0, 40.0), Real(-40.0, 40.0)];
const DIVISION: &[Domain] = &[Real(-40.0, 40.0), AwayFromZero(1.0, 9.0)];

const REDUCE_VMAP: &[&str] = &["reductions_and_arg_reductions"];
/// The collectives' tests: values on both backends and derivatives, batching
/// over named and unnamed axes, lowering.
const COLL_FD: &[&str] = &["collectives.rs::collectives_agree_and_differentiate"];
/// (the lowering test also batches each collective inside a vmap over another named axis)
const COLL_VMAP: &[&str] =
    &["collectives.rs::collectives_agree_and_differentiate", "collectives.rs::collectives_lower_to_xla_collectives"];
const COLL_TEXT: &[&str] = &["collectives.rs::collectives_lower_to_xla_collectives"];
const CONSTRAINT: &[&str] = &["sharding.rs::sharding_constraints_inside_jit"];
const REDUCE_XLA: &[&str] = &["reductions_and_indexing"];
const REDUCE_TEXT: &[&str] = &["reductions"];

/// `add`, on which the other arithmetic rows are built.
const ADD: Entry = Entry {
    name: "add",
    api: &["add"],
    arity: Some(2),
    dtypes: NUM,
    domain: &[Real(-2.0, 2.0), Real(-2.0, 2.0)],
    values: WIDE2,
    diff: Diff::Linear,
    apply: Apply::Binary(lax::add),
    hlo: &["stablehlo.add"],
    ulps: 0,
    tests: NO_TESTS,
};

/// Every primitive in `src/primitives`.
pub static PRIMITIVES: &[Entry] = &[
    // ---- unary.rs: float functions (the value ranges are those XLA is compared on)
    unary_row!("exp", lax::exp, -3.0, 3.0, values: -80.0, 80.0, Smooth, &["stablehlo.exponential"], ulps: 2),
    unary_row!("log", lax::log, 0.1, 5.0, values: 1e-6, 1e6, Smooth, &["stablehlo.log"], ulps: 2),
    // XLA's CPU log1p (f64) is 28 ulps off at x = -0.3825
    unary_row!("log1p", lax::log1p, -0.5, 3.0, values: -0.99, 10.0, Smooth, &["stablehlo.log_plus_one"], ulps: 32),
    unary_row!("expm1", lax::expm1, -2.0, 2.0, values: -5.0, 5.0, Smooth, &["stablehlo.exponential_minus_one"], ulps: 2),
    unary_row!("sqrt", lax::sqrt, 0.1, 9.0, values: 0.0, 100.0, Smooth, &["stablehlo.sqrt"], ulps: 1),
    unary_row!("rsqrt", lax::rsqrt, 0.1, 9.0, values: 1e-3, 100.0, Smooth, &["stablehlo.rsqrt"], ulps: 2),
    unary_row!("sin", lax::sin, -3.0, 3.0, values: -10.0, 10.0, Smooth, &["stablehlo.sine"], ulps: 2),
    unary_row!("cos", lax::cos, -3.0, 3.0, values: -10.0, 10.0, Smooth, &["stablehlo.cosine"], ulps: 2),
    unary_row!("tan", lax::tan, -1.2, 1.2, values: -1.5, 1.5, Smooth, &["stablehlo.tan"], ulps: 3),
    unary_row!("tanh", lax::tanh, -3.0, 3.0, values: -10.0, 10.0, Smooth, &["stablehlo.tanh"], ulps: 4),
    unary_row!("logistic", lax::logistic, -6.0, 6.0, values: -30.0, 30.0, Smooth, &["stablehlo.logistic"], ulps: 3),
    Entry {
        tests: Tests { stablehlo_text: &["erf_and_erf_inv"], ..NO_TESTS },
        ..unary_row!("erf", lax::erf, -3.0, 3.0, values: -7.0, 7.0, Smooth, &["stablehlo.exponential"], ulps: 2)
    },
    // erf_inv's condition number near ±1 turns 1 ulp of erf into ~15 of the f64 result
    Entry {
        tests: Tests { stablehlo_text: &["erf_and_erf_inv"], ..NO_TESTS },
        ..unary_row!("erf_inv", lax::erf_inv, -0.9, 0.9, values: -0.99, 0.99, Smooth,
            &["stablehlo.log", "stablehlo.sqrt"], ulps: 16)
    },
    Entry {
        domain: &[OffGrid],
        ..unary_row!("floor", lax::floor, 0.0, 0.0, values: -5.0, 5.0, PiecewiseConstant, &["stablehlo.floor"], ulps: 0)
    },
    Entry {
        domain: &[OffGrid],
        ..unary_row!("ceil", lax::ceil, 0.0, 0.0, values: -5.0, 5.0, PiecewiseConstant, &["stablehlo.ceil"], ulps: 0)
    },
    Entry {
        domain: &[OffGrid],
        ..unary_row!("round", lax::round, 0.0, 0.0, values: -5.0, 5.0, PiecewiseConstant,
            &["stablehlo.round_nearest_even"], ulps: 0)
    },
    // ---- unary.rs: numeric, logical, conversion, stop_gradient
    Entry {
        dtypes: NUM,
        ..unary_row!("neg", lax::neg, -3.0, 3.0, values: -50.0, 50.0, Linear, &["stablehlo.negate"], ulps: 0)
    },
    // (on unsigned dtypes abs is the identity and sign is computed: see `Entry::hlo_for`)
    Entry {
        dtypes: NUM,
        domain: &[AwayFromZero(0.1, 3.0)],
        ..unary_row!("abs", lax::abs, 0.0, 0.0, values: -50.0, 50.0, Smooth, &["stablehlo.abs"], ulps: 0)
    },
    Entry {
        dtypes: NUM,
        domain: &[OffGrid],
        ..unary_row!("sign", lax::sign, 0.0, 0.0, values: -50.0, 50.0, PiecewiseConstant, &["stablehlo.sign"], ulps: 0)
    },
    Entry {
        name: "not",
        api: &["not"],
        arity: Some(1),
        dtypes: BOOL_INT,
        domain: &[Bits],
        values: &[Bits],
        diff: Diff::None,
        apply: Apply::Unary(lax::not),
        hlo: &["stablehlo.not"],
        ulps: 0,
        tests: NO_TESTS,
    },
    dedicated!("convert_element_type", api: &["convert_element_type"], arity: Some(1), ALL,
        domain: &[Real(-300.0, 300.0)], Linear, hlo: &[],
        tests: &["convert_element_type"], &["convert_element_type"], &["convert_element_type"], &["conversions"]),
    Entry {
        name: "stop_gradient",
        api: &["stop_gradient"],
        arity: Some(1),
        dtypes: ALL,
        domain: &[Real(-2.0, 2.0)],
        values: &[Real(-40.0, 40.0)],
        diff: Diff::Blocked,
        apply: Apply::Unary(lax::stop_gradient),
        hlo: &[],
        ulps: 0,
        tests: Tests { finite_diff: &["stop_gradient"], ..NO_TESTS },
    },
    // ---- binary.rs: arithmetic
    ADD,
    Entry { name: "sub", api: &["sub"], apply: Apply::Binary(lax::sub), hlo: &["stablehlo.subtract"], ..ADD },
    Entry {
        name: "mul",
        api: &["mul"],
        diff: Diff::Smooth,
        apply: Apply::Binary(lax::mul),
        hlo: &["stablehlo.multiply"],
        ..ADD
    },
    Entry {
        name: "div",
        api: &["div"],
        domain: &[Real(-2.0, 2.0), AwayFromZero(0.5, 2.0)],
        values: DIVISION,
        diff: Diff::Smooth,
        apply: Apply::Binary(lax::div),
        hlo: &["stablehlo.divide"],
        ..ADD
    },
    // C's fmod; tests/finite_diff.rs's `remainder` also checks Python's remainder built on it
    Entry {
        name: "rem",
        api: &["rem", "remainder", "fmod"],
        domain: &[Quotient, AwayFromZero(0.5, 2.0)],
        values: DIVISION,
        diff: Diff::Smooth,
        apply: Apply::Binary(lax::rem),
        hlo: &["stablehlo.remainder"],
        tests: Tests { finite_diff: &["remainder"], ..NO_TESTS },
        ..ADD
    },
    Entry {
        name: "pow",
        api: &["pow"],
        dtypes: F,
        domain: &[Real(0.2, 3.0), Real(-2.0, 2.0)],
        values: &[Real(0.2, 3.0), Real(-3.0, 3.0)],
        diff: Diff::Smooth,
        apply: Apply::Binary(lax::pow),
        hlo: &["stablehlo.power"],
        ulps: 2,
        ..ADD
    },
    // (at ties the derivative is split evenly: see the fixed-point tests)
    Entry {
        name: "max",
        api: &["max"],
        domain: &[Snapped(0.2), Snapped(0.7)],
        diff: Diff::Smooth,
        apply: Apply::Binary(lax::max),
        hlo: &["stablehlo.maximum"],
        ..ADD
    },
    Entry {
        name: "min",
        api: &["min"],
        domain: &[Snapped(0.2), Snapped(0.7)],
        diff: Diff::Smooth,
        apply: Apply::Binary(lax::min),
        hlo: &["stablehlo.minimum"],
        ..ADD
    },
    // ---- binary.rs: comparisons, bitwise, shifts, select
    nondiff_row!("eq", lax::eq, ALL, CMP, "stablehlo.compare"),
    nondiff_row!("ne", lax::ne, ALL, CMP, "stablehlo.compare"),
    nondiff_row!("lt", lax::lt, ALL, CMP, "stablehlo.compare"),
    nondiff_row!("le", lax::le, ALL, CMP, "stablehlo.compare"),
    nondiff_row!("gt", lax::gt, ALL, CMP, "stablehlo.compare"),
    nondiff_row!("ge", lax::ge, ALL, CMP, "stablehlo.compare"),
    nondiff_row!("and", lax::and, BOOL_INT, BITS, "stablehlo.and"),
    nondiff_row!("or", lax::or, BOOL_INT, BITS, "stablehlo.or"),
    nondiff_row!("xor", lax::xor, BOOL_INT, BITS, "stablehlo.xor"),
    nondiff_row!("shift_left", lax::shift_left, INT, SHIFT, "stablehlo.shift_left"),
    nondiff_row!("shift_right_logical", lax::shift_right_logical, INT, SHIFT, "stablehlo.shift_right_logical"),
    nondiff_row!("shift_right_arithmetic", lax::shift_right_arithmetic, INT, SHIFT, "stablehlo.shift_right_arithmetic"),
    Entry {
        name: "select",
        api: &["select", "where_"],
        arity: Some(3),
        dtypes: ALL,
        domain: &[Pred, Real(-2.0, 2.0), Real(-2.0, 2.0)],
        values: &[Pred, Real(-40.0, 40.0), Real(-40.0, 40.0)],
        diff: Diff::Linear,
        apply: Apply::Ternary(lax::select),
        hlo: &["stablehlo.select"],
        ulps: 0,
        tests: Tests { finite_diff: &["select", "where_"], ..NO_TESTS },
    },
    // ---- reduce/
    dedicated!("reduce_sum", api: &["reduce_sum"], arity: Some(1), NUM, domain: &[Real(-2.0, 2.0)], Linear,
        hlo: &["stablehlo.reduce", "stablehlo.add"], tests: &["reduce_sum"], REDUCE_VMAP, REDUCE_XLA, REDUCE_TEXT),
    dedicated!("reduce_prod", api: &["reduce_prod"], arity: Some(1), NUM, domain: &[AwayFromZero(0.5, 1.5)], Smooth,
        hlo: &["stablehlo.reduce", "stablehlo.multiply"], tests: &["reduce_prod"], REDUCE_VMAP, REDUCE_XLA, REDUCE_TEXT),
    dedicated!("reduce_max", api: &["reduce_max"], arity: Some(1), NUM, domain: &[Distinct], Smooth,
        hlo: &["stablehlo.reduce", "stablehlo.maximum"], tests: &["reduce_max"], REDUCE_VMAP, REDUCE_XLA, REDUCE_TEXT),
    dedicated!("reduce_min", api: &["reduce_min"], arity: Some(1), NUM, domain: &[Distinct], Smooth,
        hlo: &["stablehlo.reduce", "stablehlo.minimum"], tests: &["reduce_min"], REDUCE_VMAP, REDUCE_XLA, REDUCE_TEXT),
    dedicated!("argmax", api: &["argmax"], arity: Some(1), ALL, domain: &[Ties], None,
        hlo: &["stablehlo.reduce"], tests: &[], REDUCE_VMAP, REDUCE_XLA, REDUCE_TEXT),
    dedicated!("argmin", api: &["argmin"], arity: Some(1), ALL, domain: &[Ties], None,
        hlo: &["stablehlo.reduce"], tests: &[], REDUCE_VMAP, REDUCE_XLA, REDUCE_TEXT),
    // ---- collective.rs: applied over named axes only (shard_map, vmap_named); tests/collectives.rs
    dedicated!("psum", api: &["psum", "pmean"], arity: Some(1), NUM, domain: &[Real(-2.0, 2.0)], Linear,
        hlo: &["stablehlo.all_reduce"], tests: COLL_FD, COLL_VMAP, COLL_FD, COLL_TEXT),
    dedicated!("pmax", api: &["pmax"], arity: Some(1), NUM, domain: &[Distinct], Smooth,
        hlo: &["stablehlo.all_reduce"], tests: COLL_FD, COLL_VMAP, COLL_FD, COLL_TEXT),
    dedicated!("all_gather", api: &["all_gather"], arity: Some(1), ALL, domain: &[Real(-2.0, 2.0)], Linear,
        hlo: &["stablehlo.all_gather"], tests: COLL_FD, COLL_VMAP, COLL_FD, COLL_TEXT),
    dedicated!("psum_scatter", api: &["psum_scatter"], arity: Some(1), NUM, domain: &[Real(-2.0, 2.0)], Linear,
        hlo: &["stablehlo.reduce_scatter"], tests: COLL_FD, COLL_VMAP, COLL_FD, COLL_TEXT),
    dedicated!("ppermute", api: &["ppermute"], arity: Some(1), ALL, domain: &[Real(-2.0, 2.0)], Linear,
        hlo: &["stablehlo.collective_permute"], tests: COLL_FD, COLL_VMAP, COLL_FD, COLL_TEXT),
    dedicated!("axis_index", api: &["axis_index"], arity: Some(0), &[DType::I32], domain: &[], None,
        hlo: &["stablehlo.partition_id"], tests: &[], COLL_VMAP, COLL_FD, COLL_TEXT),
    dedicated!("sharding_constraint", api: &["with_sharding_constraint"], arity: Some(1), ALL,
        domain: &[Real(-2.0, 2.0)], Linear, hlo: &["stablehlo.custom_call"], tests: CONSTRAINT, CONSTRAINT,
        CONSTRAINT, CONSTRAINT),
    // ---- indexing.rs
    dedicated!("gather", api: &["gather", "take"], arity: Some(2), ALL, domain: &[Real(-2.0, 2.0), Index], Linear,
        hlo: &["stablehlo.gather"], tests: &["gather", "take", "take_along_axis", "take_along_axis_other_length"],
        &["gather_scatter_add_argsort"], REDUCE_XLA, &["indexing"]),
    dedicated!("scatter_add", api: &["scatter_add"], arity: Some(2), NUM, domain: &[Index, Real(-2.0, 2.0)], Linear,
        hlo: &["stablehlo.scatter"], tests: &["scatter_add"], &["gather_scatter_add_argsort"], REDUCE_XLA, &["indexing"]),
    dedicated!("argsort", api: &["argsort"], arity: Some(1), ALL, domain: &[Ties], None,
        hlo: &["stablehlo.sort"], tests: &[], &["gather_scatter_add_argsort"], REDUCE_XLA, &["indexing"]),
    dedicated!("iota", api: &["iota"], arity: Some(0), NUM, domain: &[], None,
        hlo: &["stablehlo.iota"], tests: &[], &["iota_inside_a_mapped_function"], &["structure"], &["indexing"]),
    // ---- structure.rs
    dedicated!("reshape", api: &["reshape"], arity: Some(1), ALL, domain: &[Real(-2.0, 2.0)], Linear,
        hlo: &["stablehlo.reshape"], tests: &["reshape"], &["reshape_broadcast_transpose_slice"], &["structure"],
        &["structure"]),
    dedicated!("broadcast_in_dim", api: &["broadcast_in_dim", "broadcast_to"], arity: Some(1), ALL,
        domain: &[Real(-2.0, 2.0)], Linear, hlo: &["stablehlo.broadcast_in_dim"],
        tests: &["broadcast_in_dim", "broadcast_to"], &["reshape_broadcast_transpose_slice"], &["structure"],
        &["structure"]),
    dedicated!("transpose", api: &["transpose"], arity: Some(1), ALL, domain: &[Real(-2.0, 2.0)], Linear,
        hlo: &["stablehlo.transpose"], tests: &["transpose"], &["reshape_broadcast_transpose_slice"], &["structure"],
        &["structure"]),
    dedicated!("slice", api: &["slice"], arity: Some(1), ALL, domain: &[Real(-2.0, 2.0)], Linear,
        hlo: &["stablehlo.slice"], tests: &["slice"], &["reshape_broadcast_transpose_slice"], &["structure"],
        &["structure"]),
    dedicated!("pad", api: &["pad"], arity: Some(2), ALL, domain: &[Real(-2.0, 2.0), Real(-2.0, 2.0)], Linear,
        hlo: &["stablehlo.pad"], tests: &["pad"], &["pad_with_batched_and_unbatched_value"], &["structure"],
        &["structure"]),
    dedicated!("concatenate", api: &["concatenate"], arity: None, ALL, domain: &[Real(-2.0, 2.0)], Linear,
        hlo: &["stablehlo.concatenate"], tests: &["concatenate"], &["concatenate_mixed_mapping"], &["structure"],
        &["structure"]),
    // ---- dot/
    dedicated!("dot_general", api: &["dot_general", "matmul", "dot", "einsum"], arity: Some(2), DOT,
        domain: &[Real(-2.0, 2.0), Real(-2.0, 2.0)], Smooth, hlo: &["stablehlo.dot_general"],
        tests: &["dot_general", "matmul", "dot", "einsum"], &["dot_general_every_mapping"], &["dot_general"],
        &["dot_general"]),
    // ---- random_bits.rs
    dedicated!("random_bits", api: &["random_bits"], arity: Some(2), &[DType::U32], domain: &[Key, Key], None,
        hlo: &["stablehlo.shift_left", "stablehlo.xor"], tests: &[], &["random_bits_over_a_stack_of_keys"],
        &["random_bits_bit_exact"], &["random_bits"]),
    // ---- control/: bodies are graphs, so only dedicated tests (tests/control_flow.rs has the derivative ones)
    dedicated!("cond", api: &["cond", "switch"], arity: None, ALL, domain: &[Any], Smooth,
        hlo: &["stablehlo.case"], tests: &["control_flow.rs::grad_of_cond_and_switch"],
        &["control_flow.rs::vmap_of_cond_and_switch"], &["while_cond_switch"], &["control_flow"]),
    dedicated!("scan", api: &["scan", "fori_loop"], arity: None, ALL, domain: &[Any], Smooth,
        hlo: &["stablehlo.while"],
        tests: &["control_flow.rs::grad_of_scan", "control_flow.rs::grad_of_fori_loop",
            "control_flow.rs::second_order_through_scan"],
        &["control_flow.rs::vmap_of_scan_and_fori"], &["scan_and_fori", "nested_and_transformed"], &["control_flow"]),
    // (reverse mode through while_loop is refused: control_flow.rs checks the message)
    dedicated!("while", api: &["while_loop"], arity: None, ALL, domain: &[Any], Smooth,
        hlo: &["stablehlo.while"],
        tests: &["control_flow.rs::jvp_of_while_loop", "control_flow.rs::reverse_mode_through_while_loop_is_refused"],
        &["control_flow.rs::vmap_of_while_loop"], &["while_cond_switch"], &["control_flow"]),
];

impl Entry {
    /// The operands of an elementwise entry.
    pub fn arity_or_panic(&self) -> usize {
        self.arity.unwrap_or_else(|| panic!("{} has no fixed arity", self.name))
    }

    /// Applies an elementwise entry.
    pub fn call(&self, x: &[Array]) -> Array {
        match self.apply {
            Apply::Unary(f) => f(&x[0]),
            Apply::Binary(f) => f(&x[0], &x[1]),
            Apply::Ternary(f) => f(&x[0], &x[1], &x[2]),
            Apply::Dedicated => panic!("{} is applied by dedicated tests only", self.name),
        }
    }

    pub fn is_elementwise(&self) -> bool {
        !matches!(self.apply, Apply::Dedicated)
    }

    /// Whether `file`'s generic test covers this entry: every elementwise
    /// entry, except that finite differences need a checkable derivative and
    /// one or two operands (select is a dedicated test there).
    pub fn generic(&self, file: File) -> bool {
        match (file, self.apply) {
            (_, Apply::Dedicated) => false,
            (File::FiniteDiff, Apply::Ternary(_)) => false,
            (File::FiniteDiff, _) => self.diff.checkable(),
            _ => true,
        }
    }

    /// The StableHLO operations the lowering emits on `dtype` (on unsigned
    /// types abs is the identity and sign needs no `stablehlo.sign`).
    pub fn hlo_for(&self, dtype: DType) -> &'static [&'static str] {
        let unsigned = matches!(dtype, DType::U32 | DType::U8);
        if unsigned && matches!(self.name, "abs" | "sign") { &[] } else { self.hlo }
    }

    /// The value domains to run value checks on: [`Entry::values`], plus
    /// integer-valued [`Domain::Ties`] when every operand admits them (so
    /// that max, min and comparisons meet equal operands).
    pub fn value_passes(&self) -> Vec<&'static [Domain]> {
        let mut v = vec![self.values];
        if self.values.iter().all(|d| d.admits_ties()) {
            const TIES: [&[Domain]; 4] = [&[], &[Ties], &[Ties, Ties], &[Ties, Ties, Ties]];
            v.push(TIES[self.values.len()]);
        }
        v
    }
}

/// The entries `file`'s generic test runs.
pub fn generic(file: File) -> impl Iterator<Item = &'static Entry> {
    PRIMITIVES.iter().filter(move |e| e.generic(file))
}

/// The entry named `name`.
pub fn entry(name: &str) -> &'static Entry {
    PRIMITIVES.iter().find(|e| e.name == name).unwrap_or_else(|| panic!("{name} is not in the catalogue"))
}

/// A seed for entry `name`, so that each primitive draws its own values.
pub fn seed_of(name: &str, seed: u64) -> u64 {
    name.bytes().fold(seed ^ 0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

// ---------------------------------------------------------------- sampling

fn bits_of(d: DType) -> u64 {
    match d {
        DType::U8 => 8,
        _ => 32,
    }
}

fn float_value(g: &mut Gen, d: Domain) -> f64 {
    match d {
        Real(lo, hi) => g.uniform(lo, hi),
        AwayFromZero(lo, hi) => {
            let v = g.uniform(lo, hi);
            if g.next_f64() < 0.5 { -v } else { v }
        }
        OffGrid => {
            let n = (g.uniform(-3.0, 3.0)).floor();
            n + g.uniform(0.1, 0.4) + if g.next_f64() < 0.5 { 0.5 } else { 0.0 }
        }
        Snapped(off) => {
            let v = g.uniform(-3.0, 3.0);
            v.floor() + off + 0.1 * (v - v.floor())
        }
        Ties => (g.uniform(-2.0, 3.0)).floor(),
        Quotient | Distinct => g.uniform(-2.0, 2.0),
        other => panic!("{other:?} does not describe float values"),
    }
}

fn int_value(g: &mut Gen, d: Domain, dtype: DType) -> i64 {
    let unsigned = dtype != DType::I32;
    let uniform = |g: &mut Gen, lo: i64, hi: i64| lo + (g.next_u64() % (hi - lo + 1) as u64) as i64;
    let floor0 = |lo: i64| if unsigned { lo.max(0) } else { lo };
    match d {
        Real(lo, hi) => uniform(g, floor0(lo.ceil() as i64), hi.floor() as i64),
        AwayFromZero(lo, hi) => {
            let m = uniform(g, (lo.ceil() as i64).max(1), hi.floor() as i64);
            if !unsigned && g.next_u64() & 1 == 1 { -m } else { m }
        }
        Ties => uniform(g, floor0(-2), if unsigned { 4 } else { 2 }),
        Bits => g.next_u64() as i64,
        ShiftAmount => uniform(g, 0, bits_of(dtype) as i64 + 7),
        OffGrid | Snapped(_) | Quotient | Distinct | Index => uniform(g, floor0(-3), 3),
        other => panic!("{other:?} does not describe integer values"),
    }
}

/// An array of `dtype` and `shape` with values in `d`.
pub fn sample(g: &mut Gen, d: Domain, dtype: DType, shape: &[usize]) -> Array {
    let n: usize = shape.iter().product();
    if d == Pred || dtype == DType::Bool {
        return g.bools(shape);
    }
    if d == Distinct {
        let mut perm: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            perm.swap(i, (g.next_u64() % (i as u64 + 1)) as usize);
        }
        let v = perm.iter().map(|&k| -2.0 + 4.0 * (k as f64 + 0.5 + g.uniform(-0.1, 0.1)) / n as f64).collect();
        return lax::convert_element_type(&Array::from_vec::<f64>(v, shape), dtype);
    }
    match dtype {
        DType::F64 => Array::from_vec((0..n).map(|_| float_value(g, d)).collect::<Vec<f64>>(), shape),
        DType::F32 => Array::from_vec((0..n).map(|_| float_value(g, d) as f32).collect::<Vec<f32>>(), shape),
        DType::I32 => Array::from_vec((0..n).map(|_| int_value(g, d, dtype) as i32).collect::<Vec<i32>>(), shape),
        DType::U32 => Array::from_vec((0..n).map(|_| int_value(g, d, dtype) as u32).collect::<Vec<u32>>(), shape),
        DType::U8 => Array::from_vec((0..n).map(|_| int_value(g, d, dtype) as u8).collect::<Vec<u8>>(), shape),
        DType::Bool => unreachable!(),
    }
}

/// One array per operand, operand `k` of `shapes[k]` in `domains[k]`. A
/// [`Domain::Quotient`] operand is the next one (broadcast to its shape)
/// times a factor away from the integers.
pub fn sample_all(g: &mut Gen, domains: &[Domain], dtype: DType, shapes: &[Vec<usize>]) -> Vec<Array> {
    let mut out: Vec<Array> = domains.iter().zip(shapes).map(|(d, s)| sample(g, *d, dtype, s)).collect();
    for k in (0..domains.len()).rev() {
        if domains[k] == Quotient && dtype.is_float() {
            let den = jnp::broadcast_to(&out[k + 1], &shapes[k]).astype(DType::F64).to_vec::<f64>();
            let v: Vec<f64> = den
                .iter()
                .map(|b| {
                    let r = g.uniform(0.0, 4.0).floor() + g.uniform(0.1, 0.9);
                    b * if g.next_f64() < 0.5 { -r } else { r }
                })
                .collect();
            out[k] = Array::from_vec(v, &shapes[k]).astype(dtype);
        }
    }
    out
}

// ---------------------------------------------------------------- coverage

/// The text of `tests/<file>`.
pub fn test_source(file: &str) -> String {
    let path = format!("{}/tests/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The body of the `#[test]` function `name` in `src` (a test file's text),
/// or why there is none.
pub fn test_body(src: &str, name: &str) -> Result<String, String> {
    let sig = format!("fn {name}(");
    let p = src.find(&sig).ok_or(format!("no `fn {name}(`"))?;
    // `#[test]` above it, past doc comments, other attributes and blank lines
    let line_start = src[..p].rfind('\n').map_or(0, |i| i + 1);
    let mut above = src[..line_start].lines().rev().map(str::trim);
    let is_test = above
        .find(|l| !(l.is_empty() || l.starts_with("//") || (l.starts_with("#[") && *l != "#[test]")))
        .is_some_and(|l| l == "#[test]");
    if !is_test {
        return Err(format!("`fn {name}` is not a #[test]"));
    }
    let close = super::source::matching(src, p + sig.len() - 1).ok_or("unbalanced parameters")?;
    let open = close + src[close..].find('{').ok_or("no body")?;
    let end = super::source::matching(src, open).ok_or("unbalanced body")?;
    Ok(src[open..=end].to_string())
}

/// Why `file` does not cover each of `entries` (empty when it covers all):
/// neither its generic test nor a dedicated test that exists and calls the
/// primitive. Non-differentiable primitives need no finite-difference test.
pub fn coverage_problems(file: File, entries: &[Entry]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut sources = std::collections::HashMap::new();
    for e in entries {
        let named = e.tests.of(file);
        let exempt = file == File::FiniteDiff && e.diff == Diff::None;
        if named.is_empty() && !e.generic(file) && !exempt {
            problems.push(format!(
                "{}: no test in {} (neither generic nor named in the catalogue)",
                e.name,
                file.name()
            ));
        }
        for t in named {
            let (f, test) = t.split_once("::").unwrap_or((file.name(), t));
            let src = sources.entry(f).or_insert_with(|| test_source(f));
            match test_body(src, test) {
                Err(why) => problems.push(format!("{}: test {f}::{test}: {why}", e.name)),
                Ok(body) if !e.api.iter().any(|a| body.contains(a)) => {
                    problems.push(format!("{}: test {f}::{test} calls none of {:?}", e.name, e.api))
                }
                Ok(_) => {}
            }
        }
    }
    problems
}

/// Fails naming every primitive of the catalogue that `file` does not cover
/// (see [`coverage_problems`]).
pub fn assert_covered(file: File) {
    let problems = coverage_problems(file, PRIMITIVES);
    assert!(problems.is_empty(), "{} does not cover every primitive:\n{}", file.name(), problems.join("\n"));
}
