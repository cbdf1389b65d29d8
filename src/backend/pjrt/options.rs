//! [`CompileOptions`]: what XLA is told besides the program (the device or
//! devices it runs on, how many partitions, SPMD partitioning), serialized
//! by hand as the `xla.CompileOptionsProto` that `PJRT_Client_Compile` takes.
//!
//! The fields written (numbers from XLA's `compile_options.proto` and
//! `xla_data.proto`):
//!
//! ```text
//! CompileOptionsProto {
//!   executable_build_options = 3 {
//!     device_ordinal = 1; num_replicas = 4; num_partitions = 5;
//!     use_spmd_partitioning = 6;
//!     device_assignment = 9 { replica_count = 1; computation_count = 2;
//!                             computation_devices = 3 { replica_device_ids = 1 } }
//!   }
//!   env_option_overrides = 7 { key = 1; value = 2 { bool_field = 2 } }
//! }
//! ```

/// How a program is compiled: for one device (the default), or partitioned
/// over several by XLA's SPMD partitioner.
///
/// ```
/// use rjax::backend::pjrt::CompileOptions;
/// let one = CompileOptions::default();
/// assert_eq!(one.num_partitions(), 1);
/// let four = CompileOptions::partitioned(vec![0, 1, 2, 3]);
/// assert_eq!(four.num_partitions(), 4);
/// assert_ne!(one.to_proto(), four.to_proto());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct CompileOptions {
    /// The client's device number a single-device program is built for
    /// (`None`: the plugin's default device).
    pub device_ordinal: Option<usize>,
    /// For a partitioned program, the PJRT device id of each partition, in
    /// partition order; empty for a single-device program.
    pub partition_devices: Vec<i32>,
}

impl CompileOptions {
    /// A single-device program built for the client's device number `ordinal`.
    ///
    /// ```
    /// let o = rjax::backend::pjrt::CompileOptions::for_device(1);
    /// assert_eq!(o.device_ordinal, Some(1));
    /// ```
    pub fn for_device(ordinal: usize) -> CompileOptions {
        CompileOptions { device_ordinal: Some(ordinal), partition_devices: Vec::new() }
    }

    /// A program partitioned by XLA's SPMD partitioner over the devices with
    /// these PJRT ids (partition `i` runs on `devices[i]`); its arguments
    /// and results carry `mhlo.sharding` attributes.
    ///
    /// ```
    /// let o = rjax::backend::pjrt::CompileOptions::partitioned(vec![0, 1]);
    /// assert_eq!(o.partition_devices, vec![0, 1]);
    /// ```
    pub fn partitioned(devices: Vec<i32>) -> CompileOptions {
        CompileOptions { device_ordinal: None, partition_devices: devices }
    }

    /// How many partitions (devices) the program runs on.
    ///
    /// ```
    /// assert_eq!(rjax::backend::pjrt::CompileOptions::default().num_partitions(), 1);
    /// ```
    pub fn num_partitions(&self) -> usize {
        self.partition_devices.len().max(1)
    }

    /// The serialized `xla.CompileOptionsProto`. Besides the build options
    /// it always sets `xla_cpu_enable_fast_min_max: false`: without it XLA's
    /// CPU compiler takes the fast min/max path, where `maximum(NaN, 1)` is
    /// 1, while JAX's (and rjax's) max and min propagate NaN.
    ///
    /// ```
    /// let bytes = rjax::backend::pjrt::CompileOptions::default().to_proto();
    /// assert!(!bytes.is_empty());
    /// ```
    pub fn to_proto(&self) -> Vec<u8> {
        let ordinal = self.device_ordinal.map(|o| o as i64).unwrap_or(-1);
        let mut build = Vec::new();
        varint_field(&mut build, 1, ordinal as u64); // device_ordinal
        varint_field(&mut build, 4, 1); // num_replicas
        varint_field(&mut build, 5, self.num_partitions() as u64); // num_partitions
        if !self.partition_devices.is_empty() {
            varint_field(&mut build, 6, 1); // use_spmd_partitioning
        }
        // The devices, as JAX always gives them: those of the partitions, or
        // the one device (on one host a device's id is its ordinal). Without
        // an assignment a program loaded from its serialization
        // (`Client::deserialize`) is put on device 0, whatever
        // `device_ordinal` said when it was compiled.
        let devices = match self.device_ordinal {
            Some(o) if self.partition_devices.is_empty() => vec![o as i32],
            _ => self.partition_devices.clone(),
        };
        if !devices.is_empty() {
            let mut assignment = Vec::new();
            varint_field(&mut assignment, 1, 1); // replica_count
            varint_field(&mut assignment, 2, devices.len() as u64); // computation_count
            for &id in &devices {
                let mut computation = Vec::new();
                varint_field(&mut computation, 1, id as i64 as u64); // replica_device_ids
                bytes_field(&mut assignment, 3, &computation);
            }
            bytes_field(&mut build, 9, &assignment); // device_assignment
        }
        let mut out = Vec::new();
        bytes_field(&mut out, 3, &build); // executable_build_options
        // env_option_overrides (field 7, a map of name -> OptionOverrideProto)
        let mut fast_min_max_off = Vec::new();
        bytes_field(&mut fast_min_max_off, 1, b"xla_cpu_enable_fast_min_max");
        bytes_field(&mut fast_min_max_off, 2, &[2 << 3, 0]); // bool_field: false
        bytes_field(&mut out, 7, &fast_min_max_off);
        out
    }
}

/// The serialized `xla.CompileOptionsProto` that [`Client::compile`](super::Client::compile)
/// sends: `executable_build_options { device_ordinal: -1, num_replicas: 1,
/// num_partitions: 1 }` and `xla_cpu_enable_fast_min_max: false` (see
/// [`CompileOptions::to_proto`]).
///
/// ```
/// use rjax::backend::pjrt::{CompileOptions, default_compile_options};
/// assert_eq!(default_compile_options(), CompileOptions::default().to_proto());
/// ```
pub fn default_compile_options() -> Vec<u8> {
    CompileOptions::default().to_proto()
}

/// The serialized options for a program that runs on the client's device
/// number `ordinal` (`None`: the default device, -1).
///
/// ```
/// use rjax::backend::pjrt::{compile_options_for, default_compile_options};
/// assert_eq!(compile_options_for(None), default_compile_options());
/// assert_ne!(compile_options_for(Some(1)), default_compile_options());
/// ```
pub fn compile_options_for(ordinal: Option<usize>) -> Vec<u8> {
    CompileOptions { device_ordinal: ordinal, partition_devices: Vec::new() }.to_proto()
}

fn bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(out, (field << 3) | 2); // wire type 2, length-delimited
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn varint_field(out: &mut Vec<u8>, field: u64, value: u64) {
    varint(out, field << 3); // wire type 0
    varint(out, value);
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitioned_options_carry_the_assignment() {
        let bytes = CompileOptions::partitioned(vec![0, 1]).to_proto();
        // executable_build_options: ordinal -1 (10 bytes), replicas 1, partitions 2, spmd on,
        // then the assignment {replica_count 1, computation_count 2, [0], [1]}.
        let assignment = [0x08, 1, 0x10, 2, 0x1a, 2, 0x08, 0, 0x1a, 2, 0x08, 1];
        let mut tail = vec![0x20, 1, 0x28, 2, 0x30, 1, 0x4a, assignment.len() as u8];
        tail.extend_from_slice(&assignment);
        assert!(bytes.windows(tail.len()).any(|w| w == tail.as_slice()), "{bytes:02x?}");
    }
}
