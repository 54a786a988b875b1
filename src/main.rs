use clap::Parser;

// The loader allocates a small string per YAML token; glibc's allocator spent a quarter of
// `validate`'s time on 100,000 projects (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = tagrec::cli::Cli::parse();
    let code = tagrec::commands::run(cli);
    std::process::exit(code);
}
