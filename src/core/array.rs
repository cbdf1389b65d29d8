//! `Array`: the immutable, cheaply cloned n-dimensional value users compute with.

use super::alloc::reserve;
use super::aval::{Aval, checked_size};
use super::dtype::{DType, Element, HostData};
use super::graph::Var;
use super::op::Op;
use ndarray::{ArrayD, IxDyn};
use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// What the core needs of an array held in a device's memory. The `device`
/// module implements it (its `DeviceArray`), so the core reads, prints and
/// computes with device arrays without depending on any backend.
pub(crate) trait DeviceValue:
    fmt::Debug + Send + Sync + std::panic::RefUnwindSafe + std::panic::UnwindSafe
{
    /// Its shape and dtype.
    fn aval(&self) -> &Aval;
    /// The values on the host (copied once, waiting for pending work), or why
    /// they cannot be read.
    fn read(&self) -> Result<&HostData, String>;
    /// Where it lives, for messages (`xla-cpu:0`).
    fn place(&self) -> String;
    /// Applies `op` to `inputs` (this value among them) on this value's
    /// device: how operations outside `jit` run on device arrays.
    fn run_op(&self, op: &Op, inputs: &[&Array], outs: &[Aval]) -> Vec<Array>;
    /// How it is split over devices, for `{:?}` (`None`: on one device).
    fn layout(&self) -> Option<String> {
        None
    }
    /// For the `device` module, to get its own type back.
    fn as_any(&self) -> &dyn Any;
}

/// An abstract array standing for a graph variable while a function is traced.
#[derive(Debug)]
pub(crate) struct Tracer {
    pub(crate) trace: u64,
    pub(crate) var: Var,
    pub(crate) aval: Aval,
}

#[derive(Debug)]
pub(crate) enum Repr {
    /// Values in host memory (the built-in CPU backend).
    Concrete(HostData),
    /// An abstract value being traced.
    Traced(Tracer),
    /// Values in a device's memory.
    Device(Box<dyn DeviceValue>),
}

/// An immutable n-dimensional array: cheap to clone (an `Arc` inside), `Send + Sync`.
///
/// Outside transformations an `Array` holds data. Inside `grad`, `vmap`,
/// `jvp`, ... the function sees abstract arrays that only know their shape and
/// dtype; their values are computed later from the traced graph.
///
/// ```
/// use rjax::Array;
/// let a = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
/// let b = &a * 2.0 + 1.0;
/// assert_eq!(b.to_vec::<f32>(), vec![3.0, 5.0, 7.0, 9.0]);
/// assert_eq!(b.shape(), &[2, 2]);
/// ```
#[derive(Clone)]
pub struct Array {
    pub(crate) repr: Arc<Repr>,
}

impl Array {
    pub(crate) fn from_host(h: HostData) -> Array {
        Array { repr: Arc::new(Repr::Concrete(h)) }
    }

    /// The host data, taken without a copy when this is the array's only
    /// handle and it is concrete; otherwise the array back.
    pub(crate) fn try_into_host(self) -> Result<HostData, Array> {
        match Arc::try_unwrap(self.repr) {
            Ok(Repr::Concrete(h)) => Ok(h),
            Ok(other) => Err(Array { repr: Arc::new(other) }),
            Err(repr) => Err(Array { repr }),
        }
    }

    /// An identity of this array's value, shared by its clones (the address
    /// of the shared representation): equal ids mean the same value object.
    pub(crate) fn id(&self) -> usize {
        Arc::as_ptr(&self.repr) as *const () as usize
    }

    pub(crate) fn traced(trace: u64, var: Var, aval: Aval) -> Array {
        Array { repr: Arc::new(Repr::Traced(Tracer { trace, var, aval })) }
    }

    /// An array from a flat row-major vector and a shape.
    ///
    /// ```
    /// let a = rjax::Array::from_vec(vec![1i32, 2, 3, 4, 5, 6], &[2, 3]);
    /// assert_eq!(a.ndim(), 2);
    /// ```
    #[track_caller]
    pub fn from_vec<T: Element>(data: Vec<T>, shape: &[usize]) -> Array {
        match checked_size(shape) {
            Some(n) if n == data.len() => {}
            Some(n) => panic!("from_vec: {} values cannot fill shape {shape:?} ({n} elements)", data.len()),
            None => {
                panic!("from_vec: {} values cannot fill shape {shape:?} (more than usize::MAX elements)", data.len())
            }
        }
        let a = match ArrayD::from_shape_vec(IxDyn(shape), data) {
            Ok(a) => a,
            Err(e) => panic!("from_vec: {e}"),
        };
        Array::from_host(T::wrap(a))
    }

    /// An array copied from a slice.
    ///
    /// ```
    /// let a = rjax::Array::from_slice(&[1.0f64, 2.0], &[2]);
    /// assert_eq!(a.to_vec::<f64>(), vec![1.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn from_slice<T: Element>(data: &[T], shape: &[usize]) -> Array {
        Array::from_vec(data.to_vec(), shape)
    }

    /// A 0-dimensional array.
    ///
    /// ```
    /// assert_eq!(rjax::Array::scalar(2.5f32).item::<f32>(), 2.5);
    /// ```
    pub fn scalar<T: Element>(v: T) -> Array {
        Array::from_vec(vec![v], &[])
    }

    /// An array of the given shape and dtype filled with `value` (converted to the dtype).
    ///
    /// Panics, naming the shape and the bytes, when the array is too large to
    /// allocate; a shape with a zero axis is an empty array (see [`Aval::byte_size`]).
    ///
    /// ```
    /// use rjax::{Array, DType};
    /// assert_eq!(Array::full(&[2], 7.0, DType::I32).to_vec::<i32>(), vec![7, 7]);
    /// assert_eq!(Array::full(&[0, 1 << 62], 1.0, DType::F32).size(), 0);
    /// ```
    #[track_caller]
    pub fn full(shape: &[usize], value: f64, dtype: DType) -> Array {
        Array::filled("full", shape, value, dtype)
    }

    /// [`Array::full`] for the constructor named `op` (in messages).
    #[track_caller]
    fn filled(op: &str, shape: &[usize], value: f64, dtype: DType) -> Array {
        reserve(op, &Aval::new(shape, dtype));
        fn fill<T: Element>(shape: &[usize], v: f64) -> HostData {
            T::wrap(ArrayD::from_elem(IxDyn(shape), T::from_f64(v)))
        }
        Array::from_host(match dtype {
            DType::F32 => fill::<f32>(shape, value),
            DType::F64 => fill::<f64>(shape, value),
            DType::I32 => fill::<i32>(shape, value),
            DType::U32 => fill::<u32>(shape, value),
            DType::U8 => fill::<u8>(shape, value),
            DType::Bool => fill::<bool>(shape, value),
        })
    }

    /// Zeros of the given shape and dtype.
    ///
    /// ```
    /// use rjax::{Array, DType};
    /// assert_eq!(Array::zeros(&[3], DType::F32).to_vec::<f32>(), vec![0.0; 3]);
    /// ```
    ///
    /// Too large an array is a panic, not an abort:
    ///
    /// ```should_panic
    /// // zeros: the shape [1099511627776, 1099511627776] of f32 has about 1.21e24 elements ...
    /// rjax::Array::zeros(&[1 << 40, 1 << 40], rjax::DType::F32);
    /// ```
    #[track_caller]
    pub fn zeros(shape: &[usize], dtype: DType) -> Array {
        Array::filled("zeros", shape, 0.0, dtype)
    }

    /// Ones of the given shape and dtype.
    ///
    /// ```
    /// use rjax::{Array, DType};
    /// assert_eq!(Array::ones(&[2], DType::F64).to_vec::<f64>(), vec![1.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn ones(shape: &[usize], dtype: DType) -> Array {
        Array::filled("ones", shape, 1.0, dtype)
    }

    /// `start, start + step, ...` up to (excluding) `stop`, as NumPy's `arange`.
    ///
    /// ```
    /// use rjax::{Array, DType};
    /// assert_eq!(Array::arange(0.0, 5.0, 2.0, DType::I32).to_vec::<i32>(), vec![0, 2, 4]);
    /// ```
    #[track_caller]
    pub fn arange(start: f64, stop: f64, step: f64, dtype: DType) -> Array {
        if step == 0.0 || !step.is_finite() {
            panic!("arange: step must be finite and non-zero, got {step}");
        }
        let n = ((stop - start) / step).ceil().max(0.0) as usize;
        reserve("arange", &Aval::new(&[n], DType::F64));
        let v: Vec<f64> = (0..n).map(|i| start + i as f64 * step).collect();
        Array::from_vec(v, &[n]).cast_host(dtype)
    }

    /// `num` evenly spaced values from `start` to `stop` inclusive.
    ///
    /// ```
    /// use rjax::{Array, DType};
    /// assert_eq!(Array::linspace(0.0, 1.0, 3, DType::F64).to_vec::<f64>(), vec![0.0, 0.5, 1.0]);
    /// ```
    #[track_caller]
    pub fn linspace(start: f64, stop: f64, num: usize, dtype: DType) -> Array {
        reserve("linspace", &Aval::new(&[num], DType::F64));
        let step = if num > 1 { (stop - start) / (num - 1) as f64 } else { 0.0 };
        let v: Vec<f64> =
            (0..num).map(|i| if i + 1 == num && num > 1 { stop } else { start + i as f64 * step }).collect();
        Array::from_vec(v, &[num]).cast_host(dtype)
    }

    /// The `n x n` identity matrix.
    ///
    /// ```
    /// use rjax::{Array, DType};
    /// assert_eq!(Array::eye(2, DType::F32).to_vec::<f32>(), vec![1.0, 0.0, 0.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn eye(n: usize, dtype: DType) -> Array {
        reserve("eye", &Aval::new(&[n, n], DType::F64));
        let v: Vec<f64> = (0..n * n).map(|i| if i / n == i % n { 1.0 } else { 0.0 }).collect();
        Array::from_vec(v, &[n, n]).cast_host(dtype)
    }

    /// Wraps an `ndarray` array (copied into standard layout if needed).
    ///
    /// ```
    /// let a = rjax::Array::from_ndarray(ndarray::arr2(&[[1.0f32, 2.0]]).into_dyn());
    /// assert_eq!(a.shape(), &[1, 2]);
    /// ```
    pub fn from_ndarray<T: Element>(a: ArrayD<T>) -> Array {
        Array::from_host(T::wrap(a).into_standard())
    }

    /// Copies the values out as an `ndarray` array.
    ///
    /// ```
    /// let a = rjax::Array::from_vec(vec![1.0f32, 2.0], &[2]);
    /// assert_eq!(a.to_ndarray::<f32>().sum(), 3.0);
    /// ```
    #[track_caller]
    pub fn to_ndarray<T: Element>(&self) -> ArrayD<T> {
        let h = self.host("to_ndarray");
        match T::view(h) {
            Some(a) => a.clone(),
            None => {
                panic!("to_ndarray::<{}>: the array has dtype {}; convert it with astype first", T::DTYPE, h.dtype())
            }
        }
    }

    /// The values as a flat row-major vector.
    ///
    /// Panics if the array is abstract (inside a transformation) or has another dtype.
    ///
    /// ```
    /// let a = rjax::Array::from_vec(vec![1u8, 2, 3], &[3]);
    /// assert_eq!(a.to_vec::<u8>(), vec![1, 2, 3]);
    /// ```
    #[track_caller]
    pub fn to_vec<T: Element>(&self) -> Vec<T> {
        let h = self.host("to_vec");
        match T::view(h) {
            Some(a) => a.iter().copied().collect(),
            None => panic!("to_vec::<{}>: the array has dtype {}; convert it with astype first", T::DTYPE, h.dtype()),
        }
    }

    /// The single value of a one-element array.
    ///
    /// ```
    /// assert_eq!(rjax::Array::scalar(3i32).item::<i32>(), 3);
    /// ```
    #[track_caller]
    pub fn item<T: Element>(&self) -> T {
        if self.size() != 1 {
            panic!("item: the array has shape {:?}, not a single element", self.shape());
        }
        self.to_vec::<T>()[0]
    }

    /// The host data of a concrete array; panics with an explanation for a tracer.
    #[track_caller]
    pub(crate) fn host(&self, op: &str) -> &HostData {
        match &*self.repr {
            Repr::Concrete(h) => h,
            Repr::Device(d) => match d.read() {
                Ok(h) => h,
                Err(e) => panic!("{op}: cannot read the array from its device: {e}"),
            },
            Repr::Traced(t) => panic!(
                "{op}: this array is abstract ({}): it is being traced by a transformation \
                 (grad, vmap, jvp, make_graph, ...), so its values are not known yet. \
                 Return it from the function instead of reading it, and use where_ or \
                 select for choices that depend on values",
                t.aval
            ),
        }
    }

    /// The host data of a concrete array (`None` for an abstract one, or a
    /// device array whose values cannot be read: see [`Array::try_host_data`]).
    /// For an array on a device this copies the values to the host once,
    /// waiting for pending work.
    ///
    /// ```
    /// let a = rjax::Array::from_vec(vec![1.0f32], &[1]);
    /// assert_eq!(a.host_data().map(|h| h.dtype()), Some(rjax::DType::F32));
    /// ```
    pub fn host_data(&self) -> Option<&HostData> {
        match &*self.repr {
            Repr::Concrete(h) => Some(h),
            Repr::Device(d) => d.read().ok(),
            Repr::Traced(_) => None,
        }
    }

    /// Wraps host data (as a backend returns it) into an array.
    ///
    /// ```
    /// let h = rjax::HostData::I32(ndarray::arr1(&[1, 2]).into_dyn());
    /// assert_eq!(rjax::Array::from_host_data(h).to_vec::<i32>(), vec![1, 2]);
    /// ```
    pub fn from_host_data(h: HostData) -> Array {
        Array::from_host(h.into_standard())
    }

    /// True when the array holds data; false for an abstract array being traced.
    ///
    /// ```
    /// assert!(rjax::Array::scalar(1.0f32).is_concrete());
    /// ```
    pub fn is_concrete(&self) -> bool {
        !matches!(&*self.repr, Repr::Traced(_))
    }

    /// Shape and dtype.
    ///
    /// ```
    /// let a = rjax::Array::zeros(&[2], rjax::DType::U32);
    /// assert_eq!(a.aval().to_string(), "u32[2]");
    /// ```
    pub fn aval(&self) -> Aval {
        Aval { shape: self.shape().to_vec(), dtype: self.dtype() }
    }

    /// The size of each axis.
    ///
    /// ```
    /// assert_eq!(rjax::Array::zeros(&[4, 5], rjax::DType::F32).shape(), &[4, 5]);
    /// ```
    pub fn shape(&self) -> &[usize] {
        match &*self.repr {
            Repr::Concrete(h) => h.shape(),
            Repr::Traced(t) => &t.aval.shape,
            Repr::Device(d) => &d.aval().shape,
        }
    }

    /// The element type.
    ///
    /// ```
    /// assert_eq!(rjax::Array::scalar(true).dtype(), rjax::DType::Bool);
    /// ```
    pub fn dtype(&self) -> DType {
        match &*self.repr {
            Repr::Concrete(h) => h.dtype(),
            Repr::Traced(t) => t.aval.dtype,
            Repr::Device(d) => d.aval().dtype,
        }
    }

    /// Number of axes.
    ///
    /// ```
    /// assert_eq!(rjax::Array::scalar(1.0f32).ndim(), 0);
    /// ```
    pub fn ndim(&self) -> usize {
        self.shape().len()
    }

    /// Number of elements.
    ///
    /// ```
    /// assert_eq!(rjax::Array::zeros(&[2, 3], rjax::DType::F32).size(), 6);
    /// ```
    pub fn size(&self) -> usize {
        // every array's shape passed a size check when it was made
        self.shape().iter().product()
    }

    /// Converts concrete host data directly (used to build constants).
    fn cast_host(&self, dtype: DType) -> Array {
        let v: Vec<f64> = self.to_vec::<f64>();
        let shape = self.shape().to_vec();
        fn make<T: Element>(v: &[f64], shape: &[usize]) -> Array {
            Array::from_vec(v.iter().map(|x| T::from_f64(*x)).collect::<Vec<T>>(), shape)
        }
        match dtype {
            DType::F32 => make::<f32>(&v, &shape),
            DType::F64 => make::<f64>(&v, &shape),
            DType::I32 => make::<i32>(&v, &shape),
            DType::U32 => make::<u32>(&v, &shape),
            DType::U8 => make::<u8>(&v, &shape),
            DType::Bool => make::<bool>(&v, &shape),
        }
    }
}

/// Equal when both are concrete with the same dtype, shape and values (NaN is
/// unequal to itself, as in IEEE); an abstract array equals only itself.
///
/// ```
/// use rjax::Array;
/// assert_eq!(Array::from_vec(vec![1, 2], &[2]), Array::from_vec(vec![1, 2], &[2]));
/// assert_ne!(Array::from_vec(vec![1, 2], &[2]), Array::from_vec(vec![1, 2], &[1, 2]));
/// ```
impl PartialEq for Array {
    fn eq(&self, other: &Array) -> bool {
        if Arc::ptr_eq(&self.repr, &other.repr) {
            return true;
        }
        if !self.is_concrete() || !other.is_concrete() {
            return false;
        }
        match (self.try_host_data(), other.try_host_data()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

/// Prints like JAX's repr: `Array([1., 2.], dtype=f32)`.
impl std::fmt::Debug for Array {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.repr {
            Repr::Traced(t) => write!(f, "Traced<{}>", t.aval),
            repr => {
                let body = self.to_string().replace('\n', "\n      ");
                write!(f, "Array({body}, dtype={}", self.dtype())?;
                if let Repr::Device(d) = repr
                    && let Some(layout) = d.layout()
                {
                    write!(f, ", sharding={layout}")?;
                }
                f.write_str(")")
            }
        }
    }
}
