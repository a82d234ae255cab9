//! The authenticated wire between an agent (inside the user's Python process) and a client (the
//! swapscope window or CLI): newline-delimited JSON over TCP on 127.0.0.1.
//!
//! Both sides prove they know the agent's token without sending it: each sends a random
//! challenge and the other answers with an HMAC-SHA256 of it, labelled by role so that one
//! side's answer can never be replayed as the other's.
//!
//! 1. agent → `{"swapscope":PROTOCOL,"challenge":"<64 hex>"}`
//! 2. client → `{"response":"<hex HMAC(token, "swapscope client " + agent challenge)>","challenge":"<64 hex>"}`
//! 3. agent → `{"response":"<hex HMAC(token, "swapscope agent " + client challenge)>","hello":AgentHello}`,
//!    or `{"refused":"<reason>"}` and it closes the connection.
//!
//! This module owns the handshake and the line framing only. It does not know the messages that
//! follow (`Command`s and `Event`s) and keeps no state after the handshake: the handshake reads
//! one byte at a time, so the caller can wrap the stream in its own `BufReader` afterwards
//! without losing a byte.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The handshake's version; an agent and a client must speak the same one.
pub const PROTOCOL: u32 = 1;
/// Cap on one message line (a Command or Event as JSON), bytes, newline excluded.
pub const MAX_LINE: usize = 64 * 1024 * 1024;
/// Cap on a handshake line.
pub const MAX_HANDSHAKE_LINE: usize = 4096;
/// How long either side waits for the other's handshake line.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Label the client's HMAC input starts with.
const CLIENT_LABEL: &[u8] = b"swapscope client ";
/// Label the agent's HMAC input starts with.
const AGENT_LABEL: &[u8] = b"swapscope agent ";
/// How much of an unexpected line an error message quotes, in characters.
const QUOTE_CHARS: usize = 80;

type HmacSha256 = Hmac<Sha256>;

/// An agent's secret: 32 random bytes, shared with clients through the agent file only.
#[derive(Clone, PartialEq, Eq)]
pub struct Token([u8; 32]);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret: tokens end up in logs through `{:?}` of their holders.
        f.write_str("Token(..)")
    }
}

impl Token {
    /// 32 bytes from `/dev/urandom`.
    pub fn generate() -> io::Result<Token> {
        let mut bytes = [0; 32];
        File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .map_err(|e| io::Error::new(e.kind(), format!("cannot read /dev/urandom: {e}")))?;
        Ok(Token(bytes))
    }

    /// 64 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }

    /// Parses exactly 64 hex characters (either case).
    pub fn from_hex(s: &str) -> Option<Token> {
        from_hex(s)?.try_into().ok().map(Token)
    }

    /// The HMAC of `label + challenge` under this token.
    fn mac(&self, label: &[u8], challenge: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(label);
        mac.update(challenge.as_bytes());
        mac
    }

    /// The hex answer to `challenge` for the side named by `label`.
    fn sign(&self, label: &[u8], challenge: &str) -> String {
        to_hex(&self.mac(label, challenge).finalize().into_bytes())
    }

    /// Whether `response` is the answer to `challenge` for `label`, compared in constant time.
    fn verify(&self, label: &[u8], challenge: &str, response: &str) -> bool {
        from_hex(response).is_some_and(|tag| self.mac(label, challenge).verify_slice(&tag).is_ok())
    }
}

/// What the agent tells an authenticated client about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentHello {
    pub pid: u32,
    pub script: String,
    pub interpreter: String,
    pub python_version: String,
    pub swapscope_version: String,
}

/// Why a connection failed or a line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Any other I/O failure (a time-out is `TimedOut` or `WouldBlock`).
    #[error("connection: {0}")]
    Io(io::Error),
    /// A line longer than `max`; the reader stopped after `max + 1` bytes.
    #[error(
        "a line is longer than {max} bytes; the other side is not a swapscope peer of this version"
    )]
    TooLong { max: usize },
    /// Not the expected JSON; the message quotes at most the first 80 characters.
    #[error("unexpected message: {0}")]
    Malformed(String),
    /// The agent refused us, for this reason.
    #[error("the agent refused the connection: {0}")]
    Refused(String),
    /// The peer failed the HMAC check (on the client: the agent did not prove it knows the token).
    #[error(
        "the other side does not know this agent's token; the agent file may be stale (list the agents again)"
    )]
    Unauthenticated,
    /// The peer closed the connection (or reset it) during the handshake or in the middle of a
    /// line; a reset or broken pipe is this, whenever it comes.
    #[error("the other side closed the connection")]
    Closed,
}

impl From<io::Error> for WireError {
    /// The peer gone (a reset, an abort, a broken pipe) is `Closed`, as a clean EOF is: which
    /// one the OS reports depends on whether this side wrote after the peer closed.
    fn from(e: io::Error) -> WireError {
        match e.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => WireError::Closed,
            _ => WireError::Io(e),
        }
    }
}

/// Reads one '\n'-terminated line (without the newline; a trailing '\r' is stripped too), at most
/// `max` bytes (a trailing '\r' counts). `Ok(None)` at a clean EOF before any byte.
///
/// Consumes at most `max + 1` bytes from `reader`, so an endless line costs `max` bytes of memory,
/// never more. Invalid UTF-8 is `Malformed`; EOF inside a line is `Closed`.
pub fn read_line(reader: &mut impl BufRead, max: usize) -> Result<Option<String>, WireError> {
    let mut line = Vec::new();
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if chunk.is_empty() {
            return if line.is_empty() {
                Ok(None)
            } else {
                Err(WireError::Closed)
            };
        }
        // Look no further than one byte past the cap: a newline there still ends a legal line.
        let room = max.saturating_add(1) - line.len();
        let window = &chunk[..chunk.len().min(room)];
        if let Some(end) = window.iter().position(|&b| b == b'\n') {
            line.extend_from_slice(&window[..end]);
            reader.consume(end + 1);
            break;
        }
        let taken = window.len();
        line.extend_from_slice(window);
        reader.consume(taken);
        if line.len() > max {
            return Err(WireError::TooLong { max });
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line).map(Some).map_err(|e| {
        WireError::Malformed(format!(
            "a line is not UTF-8: {}",
            quote(&String::from_utf8_lossy(e.as_bytes()))
        ))
    })
}

/// Serializes `value` as one JSON line + '\n' and flushes.
///
/// The line goes out in one `write_all`: a raw `TcpStream` would otherwise see one small write
/// per JSON token.
pub fn write_line(writer: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    let mut bytes = serde_json::to_vec(value).map_err(io::Error::other)?;
    bytes.push(b'\n');
    writer.write_all(&bytes)?;
    writer.flush()
}

/// Agent side, on a freshly accepted stream. Sets read timeout `HANDSHAKE_TIMEOUT` for the
/// handshake, restores no timeout after. On `Err` the caller closes the stream.
pub fn accept(stream: &TcpStream, token: &Token, hello: &AgentHello) -> Result<(), WireError> {
    accept_with_timeout(stream, token, hello, HANDSHAKE_TIMEOUT)
}

/// Client side: connects to 127.0.0.1:port (connect timeout `HANDSHAKE_TIMEOUT`), authenticates,
/// returns the stream and the agent's hello.
pub fn connect(port: u16, token: &Token) -> Result<(TcpStream, AgentHello), WireError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&addr, HANDSHAKE_TIMEOUT).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot connect to the agent at {addr}: {e}"),
        )
    })?;
    let hello = with_deadline(&stream, HANDSHAKE_TIMEOUT, |reader| {
        client_handshake(&stream, reader, token)
    })?;
    Ok((stream, hello))
}

/// The first line: the agent's offer.
#[derive(Debug, Serialize, Deserialize)]
struct Offer {
    swapscope: u32,
    challenge: String,
}

/// Only the version of an offer, read first so a future offer's other fields cannot confuse us.
#[derive(Debug, Deserialize)]
struct OfferVersion {
    swapscope: u32,
}

/// The client's answer and its own challenge.
#[derive(Debug, Serialize, Deserialize)]
struct ClientAnswer {
    response: String,
    challenge: String,
}

/// The agent's answer and what it tells the client about itself.
#[derive(Debug, Serialize, Deserialize)]
struct AgentAnswer {
    response: String,
    hello: AgentHello,
}

/// The agent's last word to a client it does not serve.
#[derive(Debug, Serialize, Deserialize)]
struct Refusal {
    refused: String,
}

/// `accept` with the timeout as a parameter, so tests need not wait five seconds.
fn accept_with_timeout(
    stream: &TcpStream,
    token: &Token,
    hello: &AgentHello,
    timeout: Duration,
) -> Result<(), WireError> {
    with_deadline(stream, timeout, |reader| {
        let result = agent_handshake(stream, reader, token, hello);
        if let Err(e) = &result {
            let reason = match e {
                WireError::Unauthenticated => "wrong token".to_owned(),
                WireError::Closed => return result,
                other => other.to_string(),
            };
            // Best effort: the connection is failing anyway and the caller reports `e`.
            write_line(&mut { stream }, &Refusal { refused: reason }).ok();
        }
        result
    })
}

/// Runs a handshake with a total deadline of `timeout` on reads and writes, then clears the
/// timeouts again (the messages that follow may be far apart).
fn with_deadline<T>(
    stream: &TcpStream,
    timeout: Duration,
    handshake: impl FnOnce(&mut BufReader<DeadlineReader<'_>>) -> Result<T, WireError>,
) -> Result<T, WireError> {
    // Small lines back to back (an event after an event) must not wait for Nagle's algorithm.
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(timeout))?;
    // A one-byte buffer: the handshake never takes a byte of what follows it.
    let mut reader = BufReader::with_capacity(
        1,
        DeadlineReader {
            stream,
            deadline: Instant::now() + timeout,
            timeout,
        },
    );
    let result = handshake(&mut reader);
    let restored = stream
        .set_read_timeout(None)
        .and_then(|()| stream.set_write_timeout(None));
    let value = result?;
    restored?;
    Ok(value)
}

/// Reads at most one byte per call, failing with `TimedOut` once the deadline has passed.
struct DeadlineReader<'a> {
    stream: &'a TcpStream,
    deadline: Instant,
    timeout: Duration,
}

impl Read for DeadlineReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let timed_out = || {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no handshake from the other side within {:?}", self.timeout),
            )
        };
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(timed_out());
        }
        self.stream.set_read_timeout(Some(remaining))?;
        let one = buf.len().min(1);
        match (&mut { self.stream }).read(&mut buf[..one]) {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(timed_out())
            }
            other => other,
        }
    }
}

fn agent_handshake(
    stream: &TcpStream,
    reader: &mut impl BufRead,
    token: &Token,
    hello: &AgentHello,
) -> Result<(), WireError> {
    let challenge = Token::generate()?.to_hex();
    write_line(
        &mut { stream },
        &Offer {
            swapscope: PROTOCOL,
            challenge: challenge.clone(),
        },
    )?;
    let line = read_handshake_line(reader)?;
    let answer: ClientAnswer = parse(&line, "a swapscope client's answer")?;
    if !token.verify(CLIENT_LABEL, &challenge, &answer.response) {
        return Err(WireError::Unauthenticated);
    }
    if !is_challenge(&answer.challenge) {
        return Err(WireError::Malformed(format!(
            "the client's challenge is not 64 hex characters: {}",
            quote(&answer.challenge)
        )));
    }
    write_line(
        &mut { stream },
        &AgentAnswer {
            response: token.sign(AGENT_LABEL, &answer.challenge),
            hello: hello.clone(),
        },
    )?;
    Ok(())
}

fn client_handshake(
    stream: &TcpStream,
    reader: &mut impl BufRead,
    token: &Token,
) -> Result<AgentHello, WireError> {
    let line = read_handshake_line(reader)?;
    refused(&line)?;
    let OfferVersion { swapscope } = parse(&line, "a swapscope agent's offer")?;
    if swapscope != PROTOCOL {
        return Err(WireError::Malformed(format!(
            "the agent speaks protocol {swapscope} and this client {PROTOCOL}; \
             use the same swapscope version on both sides"
        )));
    }
    let offer: Offer = parse(&line, "a swapscope agent's offer")?;
    if !is_challenge(&offer.challenge) {
        return Err(WireError::Malformed(format!(
            "the agent's challenge is not 64 hex characters: {}",
            quote(&offer.challenge)
        )));
    }
    let challenge = Token::generate()?.to_hex();
    write_line(
        &mut { stream },
        &ClientAnswer {
            response: token.sign(CLIENT_LABEL, &offer.challenge),
            challenge: challenge.clone(),
        },
    )?;
    let line = read_handshake_line(reader)?;
    refused(&line)?;
    let answer: AgentAnswer = parse(&line, "a swapscope agent's answer")?;
    if !token.verify(AGENT_LABEL, &challenge, &answer.response) {
        return Err(WireError::Unauthenticated);
    }
    Ok(answer.hello)
}

/// One handshake line; EOF before it is `Closed`.
fn read_handshake_line(reader: &mut impl BufRead) -> Result<String, WireError> {
    read_line(reader, MAX_HANDSHAKE_LINE)?.ok_or(WireError::Closed)
}

/// `Err(Refused)` if `line` is the agent's refusal.
fn refused(line: &str) -> Result<(), WireError> {
    match serde_json::from_str::<Refusal>(line) {
        Ok(Refusal { refused }) => Err(WireError::Refused(refused)),
        Err(_) => Ok(()),
    }
}

/// Parses `line` as `T`; `expected` names `T` in the error.
fn parse<T: DeserializeOwned>(line: &str, expected: &str) -> Result<T, WireError> {
    serde_json::from_str(line).map_err(|e| {
        WireError::Malformed(format!("expected {expected}, got {} ({e})", quote(line)))
    })
}

/// A challenge is 32 random bytes in hex, like a token.
fn is_challenge(s: &str) -> bool {
    Token::from_hex(s).is_some()
}

/// `s` in quotes, cut to its first `QUOTE_CHARS` characters.
fn quote(s: &str) -> String {
    match s.char_indices().nth(QUOTE_CHARS) {
        Some((cut, _)) => format!("{:?}…", &s[..cut]),
        None => format!("{s:?}"),
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// Decodes hex of even length; `None` on anything else (signs and spaces included).
fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            u8::try_from(high << 4 | low).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;
    use std::net::TcpListener;
    use std::thread::JoinHandle;

    use super::*;

    fn hello() -> AgentHello {
        AgentHello {
            pid: 4242,
            script: "/home/me/game.py".into(),
            interpreter: "/usr/bin/python3".into(),
            python_version: "3.13.1".into(),
            swapscope_version: "0.1.0".into(),
        }
    }

    fn token(byte: u8) -> Token {
        Token([byte; 32])
    }

    #[test]
    fn token_hex_round_trip() {
        let t = Token::generate().unwrap();
        let hex = t.to_hex();
        assert_eq!(hex.len(), 64);
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{hex}"
        );
        assert_eq!(Token::from_hex(&hex), Some(t.clone()));
        assert_eq!(Token::from_hex(&hex.to_uppercase()), Some(t.clone()));
        assert_ne!(
            Token::generate().unwrap(),
            t,
            "two tokens from /dev/urandom are equal"
        );
        assert_eq!(token(0xab).to_hex(), "ab".repeat(32));
    }

    #[test]
    fn token_from_hex_rejects_other_lengths_and_characters() {
        let hex = "0f".repeat(32);
        assert!(Token::from_hex(&hex).is_some());
        for bad in [
            &hex[..63],
            &hex[..62],
            &format!("{hex}00"),
            &format!("g{}", &hex[1..]),
            &format!("+{}", &hex[1..]),
            &format!(" {}", &hex[1..]),
            "",
        ] {
            assert_eq!(Token::from_hex(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn token_debug_hides_the_bytes() {
        let t = token(0xcd);
        let debug = format!("{t:?} {:?}", Some(&t));
        assert!(!debug.contains(&t.to_hex()[..8]), "{debug}");
        assert!(!debug.contains("205"), "{debug}"); // 0xcd as a decimal byte
        assert_eq!(format!("{t:?}"), "Token(..)");
    }

    /// A `BufRead` over bytes that hands out `chunk` bytes at a time and counts what is consumed.
    struct Counting {
        data: Vec<u8>,
        consumed: usize,
        chunk: usize,
    }

    impl Counting {
        fn new(data: impl Into<Vec<u8>>, chunk: usize) -> Counting {
            Counting {
                data: data.into(),
                consumed: 0,
                chunk,
            }
        }
    }

    impl Read for Counting {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.fill_buf()?.len().min(buf.len());
            buf[..n].copy_from_slice(&self.data[self.consumed..self.consumed + n]);
            self.consume(n);
            Ok(n)
        }
    }

    impl BufRead for Counting {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            let end = (self.consumed + self.chunk).min(self.data.len());
            Ok(&self.data[self.consumed..end])
        }

        fn consume(&mut self, amount: usize) {
            self.consumed += amount;
        }
    }

    #[test]
    fn read_line_reads_lines_and_strips_crlf() {
        for chunk in [1, 3, 4096] {
            let mut r = Counting::new("first\nsecond\r\n\nlast\r\r\n", chunk);
            assert_eq!(read_line(&mut r, 100).unwrap().as_deref(), Some("first"));
            assert_eq!(r.consumed, 6, "read past the first newline (chunk {chunk})");
            assert_eq!(read_line(&mut r, 100).unwrap().as_deref(), Some("second"));
            assert_eq!(read_line(&mut r, 100).unwrap().as_deref(), Some(""));
            assert_eq!(read_line(&mut r, 100).unwrap().as_deref(), Some("last\r"));
            assert_eq!(read_line(&mut r, 100).unwrap(), None);
            assert_eq!(read_line(&mut r, 100).unwrap(), None);
        }
    }

    #[test]
    fn read_line_at_eof_is_none() {
        assert_eq!(read_line(&mut Cursor::new(""), 10).unwrap(), None);
    }

    #[test]
    fn read_line_cut_off_by_eof_is_closed() {
        let err = read_line(&mut Cursor::new("{\"half\":"), 100).unwrap_err();
        assert!(matches!(err, WireError::Closed), "{err:?}");
    }

    #[test]
    fn read_line_accepts_exactly_max_bytes() {
        let mut r = Counting::new(format!("{}\nnext\n", "x".repeat(16)), 5);
        assert_eq!(read_line(&mut r, 16).unwrap(), Some("x".repeat(16)));
        assert_eq!(read_line(&mut r, 16).unwrap().as_deref(), Some("next"));
    }

    #[test]
    fn read_line_over_max_is_too_long_and_stops_reading() {
        for chunk in [1, 7, 100_000] {
            let mut r = Counting::new(format!("{}\n", "x".repeat(10_000)), chunk);
            let err = read_line(&mut r, 16).unwrap_err();
            assert!(matches!(err, WireError::TooLong { max: 16 }), "{err:?}");
            assert!(
                r.consumed <= 17,
                "consumed {} bytes (chunk {chunk})",
                r.consumed
            );
        }
        let mut r = Counting::new(format!("{}\n", "x".repeat(17)), 1000);
        assert!(matches!(
            read_line(&mut r, 16),
            Err(WireError::TooLong { max: 16 })
        ));
    }

    #[test]
    fn read_line_rejects_invalid_utf8() {
        let mut r = Cursor::new(b"ok \xff\xfe bytes\nnext\n".to_vec());
        let err = read_line(&mut r, 100).unwrap_err();
        let WireError::Malformed(message) = &err else {
            panic!("{err:?}");
        };
        assert!(message.contains("UTF-8"), "{message}");
        // The bad line is consumed whole: the next one still reads.
        assert_eq!(read_line(&mut r, 100).unwrap().as_deref(), Some("next"));
    }

    #[test]
    fn malformed_messages_quote_at_most_80_characters() {
        let long = format!("GET /{} HTTP/1.1", "é".repeat(200));
        let err = parse::<ClientAnswer>(&long, "an answer").unwrap_err();
        let WireError::Malformed(message) = &err else {
            panic!("{err:?}");
        };
        assert!(message.contains("\"GET /éé"), "{message}");
        assert!(!message.contains(&"é".repeat(80)), "{message}");
        assert_eq!(quote("short"), "\"short\"");
    }

    #[test]
    fn write_line_writes_one_json_line() {
        let mut out = Vec::new();
        write_line(&mut out, &hello()).unwrap();
        write_line(&mut out, &"two\nlines").unwrap();
        let mut r = Cursor::new(out);
        let first = read_line(&mut r, MAX_LINE).unwrap().unwrap();
        assert_eq!(serde_json::from_str::<AgentHello>(&first).unwrap(), hello());
        let second = read_line(&mut r, MAX_LINE).unwrap().unwrap();
        assert_eq!(
            serde_json::from_str::<String>(&second).unwrap(),
            "two\nlines"
        );
        assert_eq!(read_line(&mut r, MAX_LINE).unwrap(), None);
    }

    /// An agent on 127.0.0.1 that accepts one connection, runs `serve` on it and returns its
    /// result.
    fn agent<T: Send + 'static>(
        serve: impl FnOnce(TcpStream) -> T + Send + 'static,
    ) -> (u16, JoinHandle<T>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let thread = std::thread::Builder::new()
            .name("test-agent".into())
            .spawn(move || serve(listener.accept().unwrap().0))
            .unwrap();
        (port, thread)
    }

    /// A real agent with `token` that, once the client is in, sends one event line.
    fn real_agent(token: Token, timeout: Duration) -> (u16, JoinHandle<Result<(), WireError>>) {
        agent(move |stream| {
            accept_with_timeout(&stream, &token, &hello(), timeout)?;
            assert_eq!(stream.read_timeout().unwrap(), None, "timeout not restored");
            write_line(&mut &stream, &serde_json::json!({"event": "after", "n": 1}))?;
            Ok(())
        })
    }

    fn raw_client(port: u16) -> TcpStream {
        TcpStream::connect(("127.0.0.1", port)).unwrap()
    }

    #[test]
    fn right_token_connects_and_nothing_is_over_read() {
        let t = Token::generate().unwrap();
        let (port, agent) = real_agent(t.clone(), HANDSHAKE_TIMEOUT);
        let (stream, got) = connect(port, &t).unwrap();
        assert_eq!(got, hello());
        assert_eq!(stream.read_timeout().unwrap(), None, "timeout not restored");
        agent.join().unwrap().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut reader = BufReader::new(&stream);
        let line = read_line(&mut reader, MAX_LINE).unwrap().unwrap();
        assert_eq!(line, r#"{"event":"after","n":1}"#);
    }

    #[test]
    fn agent_does_not_read_past_the_handshake() {
        let t = token(7);
        let (port, agent) = agent({
            let t = t.clone();
            move |stream| {
                accept(&stream, &t, &hello())?;
                // Fail instead of hanging if the handshake swallowed the command.
                stream.set_read_timeout(Some(Duration::from_secs(2)))?;
                read_line(&mut BufReader::new(&stream), MAX_LINE)
            }
        });
        let stream = raw_client(port);
        let mut reader = BufReader::new(&stream);
        let offer: Offer =
            serde_json::from_str(&read_line(&mut reader, MAX_LINE).unwrap().unwrap()).unwrap();
        assert_eq!(offer.swapscope, PROTOCOL);
        let answer = ClientAnswer {
            response: t.sign(CLIENT_LABEL, &offer.challenge),
            challenge: "01".repeat(32),
        };
        // The answer and the first command arrive in one segment.
        let mut bytes = serde_json::to_vec(&answer).unwrap();
        bytes.extend_from_slice(b"\n{\"command\":\"first\"}\n");
        (&stream).write_all(&bytes).unwrap();
        let reply: AgentAnswer =
            serde_json::from_str(&read_line(&mut reader, MAX_LINE).unwrap().unwrap()).unwrap();
        assert!(t.verify(AGENT_LABEL, &"01".repeat(32), &reply.response));
        assert_eq!(reply.hello, hello());
        let first = agent.join().unwrap().unwrap();
        assert_eq!(first.as_deref(), Some(r#"{"command":"first"}"#));
    }

    #[test]
    fn wrong_token_is_refused() {
        let (port, agent) = real_agent(token(1), HANDSHAKE_TIMEOUT);
        let err = connect(port, &token(2)).unwrap_err();
        let WireError::Refused(reason) = &err else {
            panic!("{err:?}");
        };
        assert!(reason.contains("token"), "{reason}");
        let err = agent.join().unwrap().unwrap_err();
        assert!(matches!(err, WireError::Unauthenticated), "{err:?}");
    }

    #[test]
    fn http_request_is_malformed_at_once() {
        let (port, agent) = real_agent(token(1), HANDSHAKE_TIMEOUT);
        let start = Instant::now();
        let stream = raw_client(port);
        (&stream)
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let err = agent.join().unwrap().unwrap_err();
        let WireError::Malformed(message) = &err else {
            panic!("{err:?}");
        };
        assert!(message.contains("\"GET / HTTP/1.1\""), "{message}");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn long_first_line_is_too_long() {
        let (port, agent) = real_agent(token(1), HANDSHAKE_TIMEOUT);
        let stream = raw_client(port);
        let mut line = vec![b'x'; 10_000];
        line.push(b'\n');
        (&stream).write_all(&line).unwrap();
        let err = agent.join().unwrap().unwrap_err();
        assert!(
            matches!(
                err,
                WireError::TooLong {
                    max: MAX_HANDSHAKE_LINE
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn silent_client_times_out() {
        let timeout = Duration::from_millis(200);
        let (port, agent) = real_agent(token(1), timeout);
        let start = Instant::now();
        let _stream = raw_client(port);
        let err = agent.join().unwrap().unwrap_err();
        let elapsed = start.elapsed();
        let WireError::Io(io) = &err else {
            panic!("{err:?}");
        };
        assert_eq!(io.kind(), io::ErrorKind::TimedOut, "{io}");
        assert!(elapsed >= timeout, "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    }

    #[test]
    fn slow_client_times_out_on_the_whole_handshake() {
        // One byte at a time, each well within the timeout: the deadline still applies.
        let timeout = Duration::from_millis(300);
        let (port, agent) = real_agent(token(1), timeout);
        let start = Instant::now();
        let stream = raw_client(port);
        for _ in 0..20 {
            if (&stream).write_all(b"{").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let err = agent.join().unwrap().unwrap_err();
        assert!(
            matches!(&err, WireError::Io(e) if e.kind() == io::ErrorKind::TimedOut),
            "{err:?}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn client_that_hangs_up_is_closed() {
        let (port, agent) = real_agent(token(1), HANDSHAKE_TIMEOUT);
        drop(raw_client(port));
        let err = agent.join().unwrap().unwrap_err();
        assert!(matches!(err, WireError::Closed), "{err:?}");
    }

    #[test]
    fn client_that_resets_is_closed() {
        let (port, agent) = real_agent(token(1), HANDSHAKE_TIMEOUT);
        let client = raw_client(port);
        // Closing with the agent's offer unread makes the kernel send a reset, not an EOF: the
        // agent's read then fails with ECONNRESET, which is the client gone all the same.
        client.peek(&mut [0; 1]).unwrap();
        drop(client);
        let err = agent.join().unwrap().unwrap_err();
        assert!(matches!(err, WireError::Closed), "{err:?}");
    }

    /// An agent that answers the client's challenge with `response(challenge)` without checking
    /// the client at all.
    fn impostor(response: impl FnOnce(&str) -> String + Send + 'static) -> (u16, JoinHandle<()>) {
        agent(move |stream| {
            let offer = Offer {
                swapscope: PROTOCOL,
                challenge: "00".repeat(32),
            };
            write_line(&mut &stream, &offer).unwrap();
            let mut reader = BufReader::new(&stream);
            let line = read_line(&mut reader, MAX_HANDSHAKE_LINE).unwrap().unwrap();
            let answer: ClientAnswer = serde_json::from_str(&line).unwrap();
            let reply = AgentAnswer {
                response: response(&answer.challenge),
                hello: hello(),
            };
            // The answer and the first event arrive in one segment.
            let mut bytes = serde_json::to_vec(&reply).unwrap();
            bytes.extend_from_slice(b"\n{\"event\":\"first\"}\n");
            // The client may hang up first; the tests check what it saw.
            (&stream).write_all(&bytes).ok();
        })
    }

    #[test]
    fn impostor_agent_is_unauthenticated() {
        let (port, agent) = impostor(|challenge| token(9).sign(AGENT_LABEL, challenge));
        let err = connect(port, &token(1)).unwrap_err();
        assert!(matches!(err, WireError::Unauthenticated), "{err:?}");
        agent.join().unwrap();
    }

    #[test]
    fn agent_answer_with_the_client_label_is_unauthenticated() {
        // Replaying a client-style answer (right token, wrong role) must not pass.
        let (port, agent) = impostor(|challenge| token(1).sign(CLIENT_LABEL, challenge));
        let err = connect(port, &token(1)).unwrap_err();
        assert!(matches!(err, WireError::Unauthenticated), "{err:?}");
        agent.join().unwrap();
    }

    #[test]
    fn client_does_not_read_past_the_handshake() {
        // Also the control for the two tests above: the same fake agent, answering correctly.
        let (port, agent) = impostor(|challenge| token(1).sign(AGENT_LABEL, challenge));
        let (stream, got) = connect(port, &token(1)).unwrap();
        assert_eq!(got, hello());
        agent.join().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let line = read_line(&mut BufReader::new(&stream), MAX_LINE).unwrap();
        assert_eq!(line.as_deref(), Some(r#"{"event":"first"}"#));
    }

    #[test]
    fn other_protocol_version_is_malformed() {
        let (port, agent) = agent(|stream| {
            let offer = Offer {
                swapscope: PROTOCOL + 1,
                challenge: "00".repeat(32),
            };
            write_line(&mut &stream, &offer).unwrap();
        });
        let err = connect(port, &token(1)).unwrap_err();
        let WireError::Malformed(message) = &err else {
            panic!("{err:?}");
        };
        assert!(message.contains("protocol 2"), "{message}");
        agent.join().unwrap();
    }
}
