//! A misbehaving tool for the sandbox tests. `args` is `{"mode": "<mode>"}` with mode:
//! `ok` (returns a small observation), `loop` (never returns), `memory_bomb` (allocates
//! until memory runs out), `read_file` (reads `/etc/passwd`), `socket` (opens a TCP
//! connection and a listener), `env` (lists environment variables), `panic` (panics with
//! a known message).

wit_bindgen::generate!({
    world: "tool",
    path: "../../wit",
});

use exports::assay::tool::guest::{Description, Guest, Image, Observation};

struct Hostile;

fn mode(args: &str) -> &str {
    // A test guest: a substring match on the JSON is enough and keeps serde out.
    for mode in ["ok", "loop", "memory_bomb", "read_file", "socket", "env", "panic"] {
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
            other => return Err(format!("unknown mode `{other}` in {args}")),
        };
        Ok(Observation {
            text,
            images: Vec::new(),
        })
    }
}

export!(Hostile);
