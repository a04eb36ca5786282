//! A misbehaving tool for the sandbox tests. `args` is `{"mode": "<mode>"}` with mode:
//! `ok` (returns a small observation), `loop` (never returns), `memory_bomb` (allocates
//! until memory runs out), `read_file` (reads `/etc/passwd`), `socket` (opens a TCP
//! connection and a listener), `env` (lists environment variables), `panic` (panics with
//! a known message).
//!
//! Modes for a granted folder, which the host mounts at `/data`: `read_data` (reads
//! `/data/input.txt`), `create_data` (creates `/data/created.txt`), `write_data` (opens
//! `/data/input.txt` for writing and appends to it), `delete_data` (removes
//! `/data/input.txt`), `mkdir_data` (creates the folder `/data/made`) and `escape_data`
//! (reads `/data/../../etc/passwd`).
//!
//! `count_calls` increments a static counter and returns its previous value, which is 0
//! unless the host reuses the guest's memory between calls.

wit_bindgen::generate!({
    world: "tool",
    path: "../../wit",
});

use exports::assay::tool::guest::{Description, Guest, Image, Observation};

struct Hostile;

fn mode(args: &str) -> &str {
    // A test guest: a substring match on the JSON is enough and keeps serde out.
    const MODES: [&str; 14] = [
        "ok",
        "loop",
        "memory_bomb",
        "read_file",
        "socket",
        "env",
        "panic",
        "read_data",
        "create_data",
        "write_data",
        "delete_data",
        "mkdir_data",
        "escape_data",
        "count_calls",
    ];
    for mode in MODES {
        if args.contains(&format!("\"{mode}\"")) {
            return mode;
        }
    }
    "unknown"
}

impl Guest for Hostile {
    fn describe() -> Description {
        Description {
            name: "hostile".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            parameters_schema: r#"{"type":"object","properties":{"mode":{"type":"string"}}}"#
                .to_string(),
        }
    }

    fn invoke(args: String, _image: Option<Image>) -> Result<Observation, String> {
        let text = match mode(&args) {
            "ok" => "ok".to_string(),
            "loop" => {
                let mut counter: u64 = 0;
                loop {
                    counter = std::hint::black_box(counter.wrapping_add(1));
                }
            }
            "memory_bomb" => {
                let mut blocks: Vec<Vec<u8>> = Vec::new();
                loop {
                    // Touch every block so the memory is really committed.
                    blocks.push(vec![1u8; 16 << 20]);
                    std::hint::black_box(&blocks);
                }
            }
            "read_file" => match std::fs::read_to_string("/etc/passwd") {
                Ok(contents) => contents,
                Err(e) => return Err(format!("read /etc/passwd failed: {e}")),
            },
            "socket" => {
                let connect = std::net::TcpStream::connect("127.0.0.1:9");
                let listen = std::net::TcpListener::bind("127.0.0.1:0");
                match (connect, listen) {
                    (Err(c), Err(l)) => {
                        return Err(format!("connect failed: {c}; bind failed: {l}"))
                    }
                    (c, l) => format!("socket opened: connect ok {}, bind ok {}", c.is_ok(), l.is_ok()),
                }
            }
            "env" => {
                let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                format!("env: {}", vars.join(","))
            }
            "panic" => panic!("hostile guest panicked on purpose"),
            "read_data" => match std::fs::read_to_string("/data/input.txt") {
                Ok(contents) => contents,
                Err(e) => return Err(format!("read /data/input.txt failed: {e}")),
            },
            "create_data" => match std::fs::write("/data/created.txt", "created by the guest") {
                Ok(()) => "created /data/created.txt".to_string(),
                Err(e) => return Err(format!("create /data/created.txt failed: {e}")),
            },
            "write_data" => {
                use std::io::Write;
                let file = std::fs::OpenOptions::new().append(true).open("/data/input.txt");
                match file.and_then(|mut file| file.write_all(b" overwritten")) {
                    Ok(()) => "wrote /data/input.txt".to_string(),
                    Err(e) => return Err(format!("write /data/input.txt failed: {e}")),
                }
            }
            "delete_data" => match std::fs::remove_file("/data/input.txt") {
                Ok(()) => "deleted /data/input.txt".to_string(),
                Err(e) => return Err(format!("delete /data/input.txt failed: {e}")),
            },
            "mkdir_data" => match std::fs::create_dir("/data/made") {
                Ok(()) => "created /data/made".to_string(),
                Err(e) => return Err(format!("mkdir /data/made failed: {e}")),
            },
            "count_calls" => {
                static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let before = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                format!("earlier calls: {before}")
            }
            "escape_data" => match std::fs::read_to_string("/data/../../etc/passwd") {
                Ok(contents) => contents,
                Err(e) => return Err(format!("read /data/../../etc/passwd failed: {e}")),
            },
            other => return Err(format!("unknown mode `{other}` in {args}")),
        };
        Ok(Observation {
            text,
            images: Vec::new(),
        })
    }
}

export!(Hostile);
