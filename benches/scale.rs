//! Placeholder entry so `cargo bench --bench scale` builds while the benchmark is written.
mod synthetic;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, n, dir, ..] = args.as_slice() {
        let n: usize = n.parse().expect("N is a number");
        let dir = std::path::Path::new(dir);
        match flag.as_str() {
            "--write-project" => synthetic::write_project(n, dir).unwrap(),
            "--write-kustomize" => synthetic::write_kustomize(n, dir).unwrap(),
            _ => {}
        }
    }
}
