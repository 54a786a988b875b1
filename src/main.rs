use clap::Parser;

// The loader allocates a small string per YAML token; glibc's allocator spent a quarter of
// `validate`'s time on 100,000 projects (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = match tagrec::cli::Cli::try_parse() {
        Ok(cli) => cli,
        // `--help` and `--version` are answers (exit 0); a usage error is an error like any
        // other (exit 1): clap's own 2 would read as "changes" to `plan --detailed-exitcode`.
        Err(error) => {
            let _ = error.print();
            std::process::exit(if error.use_stderr() { 1 } else { 0 });
        }
    };
    let code = tagrec::commands::run(cli);
    std::process::exit(code);
}
