//! Compiles the Q4_1 kernel with optimization in every profile (see `src/kernels.rs`).

fn main() {
    println!("cargo:rerun-if-changed=src/kernels/q4_1.c");
    cc::Build::new()
        .file("src/kernels/q4_1.c")
        .opt_level(3)
        .flag_if_supported("-std=c11")
        .flag_if_supported("-fno-math-errno")
        .warnings(true)
        .compile("apprentice_q4_1");
}
