//! The fuzz targets' one function, shared by the libFuzzer entry points
//! (`fuzz_targets/`, nightly) and the replay driver (`src/bin/replay.rs`,
//! stable), so both exercise exactly the same code.

include!(concat!(env!("OUT_DIR"), "/decoders.rs"));
include!(concat!(env!("OUT_DIR"), "/seeds.rs"));

/// The types of one API module of `klarna-models`.
pub fn types(api: &str) -> Option<&'static [Decoder]> {
    APIS.iter()
        .find(|(module, _)| *module == api)
        .map(|(_, types)| *types)
}

/// The first byte of `data` picks one of the API's types; the rest is
/// decoded as that type. Panics, which is what a fuzzer reports, when
/// decoding panics or a value that decoded does not survive being written
/// back and read again.
pub fn decode(api: &str, data: &[u8]) {
    let types = types(api).unwrap_or_else(|| panic!("klarna-models has no module `{api}`"));
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let (name, check) = types[usize::from(first) % types.len()];
    if let Err(problem) = check(rest) {
        panic!("{api}::{name}: {problem}");
    }
}
