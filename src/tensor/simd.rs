//! Wider vectors where the CPU has them. Release builds target baseline x86-64 (SSE2), so gaxsh's
//! own loops would run 4 floats at a time on CPUs that do 8. [`avx2_dispatch!`] compiles a second
//! copy of a loop with AVX2 enabled and picks it at run time. Results are bit-identical: the
//! arithmetic is the same, only the vector width changes (no fused multiply-add is introduced).

/// Define `fn $name` that runs `$imp` (an `#[inline(always)]` function with the same arguments)
/// from a copy compiled with AVX2 when the CPU has it, and as-is otherwise.
#[macro_export]
macro_rules! avx2_dispatch {
    ($(#[$m:meta])* $vis:vis fn $name:ident<$T:ident: $bound:path>($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? => $imp:ident) => {
        $(#[$m])*
        $vis fn $name<$T: $bound>($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                #[target_feature(enable = "avx2")]
                fn wide<$T: $bound>($($arg: $ty),*) $(-> $ret)? {
                    $imp($($arg),*)
                }
                // SAFETY: the CPU supports AVX2 (checked just above).
                return unsafe { wide($($arg),*) };
            }
            $imp($($arg),*)
        }
    };
    // The same for a function without type parameters.
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? => $imp:ident) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                #[target_feature(enable = "avx2")]
                fn wide($($arg: $ty),*) $(-> $ret)? {
                    $imp($($arg),*)
                }
                // SAFETY: the CPU supports AVX2 (checked just above).
                return unsafe { wide($($arg),*) };
            }
            $imp($($arg),*)
        }
    };
}
