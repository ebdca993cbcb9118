//! `zhtj`: the command line of a unit admin's offline replica (智慧团建 组织树建立,
//! 成青办〔2017〕70号). Human output is Chinese; `--json` gives scripts structured output;
//! exit codes are documented in `zhtj --help` (0 ok, 1 refused, 2 usage, 3 not found,
//! 4 storage or file error, 5 server unreachable, 6 login required). A thin layer over
//! `client_core::Replica` and `client_core::sync`.
//!
//! Modules, each depending only on those listed before it: `args` (clap types) and
//! `output` (stdout, tables, masking, failures and exit codes); `ctx` (data directory,
//! replica, named organization and field, server session); the commands, which do not
//! call one another: `local` (offline), `online` (register, login, sync, logout),
//! `supervise` (server progress, report), `history`; then this file, which dispatches.

mod args;
mod ctx;
mod history;
mod local;
mod online;
mod output;
mod supervise;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::ctx::Ctx;
use crate::output::{CliResult, Out};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = Out::default();
    let result = run(&cli, &mut out);
    out.flush_to_stdout();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{}", failure.report());
            ExitCode::from(failure.exit_code())
        }
    }
}

/// Run the parsed command line; what is printed on stdout goes to `out`.
fn run(cli: &Cli, out: &mut Out) -> CliResult {
    let ctx = Ctx {
        data: cli.data.clone(),
        json: cli.json,
        ca: cli.ca.clone(),
    };
    match &cli.command {
        Command::Init { unit } => local::init(&ctx, out, unit),
        Command::Show { org, full } => local::show(&ctx, out, org.as_deref(), *full),
        Command::Set { org, pairs } => local::set(&ctx, out, org.as_deref(), pairs),
        Command::Create(args) => local::create(&ctx, out, args),
        Command::PreviewName {
            category,
            name,
            parent,
        } => local::preview_name(&ctx, out, category, name, parent.as_deref()),
        Command::Template { out: path } => local::template(out, path),
        Command::Import {
            file,
            parent,
            annotated,
        } => local::import(&ctx, out, file, parent.as_deref(), annotated.as_deref()),
        Command::Tree => local::tree(&ctx, out),
        Command::List { parent } => local::list(&ctx, out, parent.as_deref()),
        Command::Move {
            org,
            direction,
            parent,
        } => local::move_org(&ctx, out, org, *direction, parent.as_deref()),
        Command::Delete { org } => local::delete(&ctx, out, org),
        Command::Code { org } => local::code(&ctx, out, org),
        Command::Codes { parent, export } => {
            local::codes(&ctx, out, parent.as_deref(), export.as_deref())
        }
        Command::Export { out: path } => local::export(&ctx, out, path),
        Command::Progress => local::progress(&ctx, out),
        Command::Status => local::status(&ctx, out),
        Command::History(args) => history::history(&ctx, out, args),
        Command::Register(args) => online::register(&ctx, out, args),
        Command::Login(args) => online::login(&ctx, out, args),
        Command::Sync => online::sync(&ctx, out),
        Command::Logout => online::logout(&ctx, out),
        Command::ServerProgress(args) => supervise::server_progress(&ctx, out, args),
        Command::Report(args) => supervise::report(&ctx, out, args),
        Command::StressCreate { count, parent } => {
            local::stress_create(&ctx, *count, parent.as_deref())
        }
    }
}
