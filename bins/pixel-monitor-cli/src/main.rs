//! `pixel-monitor`: command-line tool (under construction).

fn main() {
    eprintln!("pixel-monitor: no subcommands yet");
    std::process::exit(2);
}
