use clap::Parser;

fn main() {
    let cli = tagrec::cli::Cli::parse();
    let code = tagrec::commands::run(cli);
    std::process::exit(code);
}
