//! `zhtj`: the command line of a unit admin's offline replica (智慧团建 组织树建立,
//! 成青办〔2017〕70号). Human output is Chinese; `--json` gives scripts structured output;
//! exit codes are documented in `zhtj --help` (0 ok, 1 refused, 2 usage, 3 not found,
//! 4 storage or file error, 5 server unreachable, 6 login required). A thin layer over
//! `client_core::Replica` and `client_core::sync`.

mod cli;
mod commands;
mod history;
mod online;
mod output;
mod supervise;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let mut out = output::Out::default();
    let result = commands::run(&cli, &mut out);
    out.flush_to_stdout();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{}", failure.report());
            ExitCode::from(failure.exit_code())
        }
    }
}
