//! `fax-sim`: command-line tool (under construction).

fn main() {
    eprintln!("fax-sim: no subcommands yet");
    std::process::exit(2);
}
