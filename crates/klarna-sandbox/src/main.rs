//! `cargo run -p klarna-sandbox`: a sandbox on its own, for trying the APIs
//! with curl or another language's client. It seeds the order of Klarna's
//! refund allocation guide (a T-shirt, jeans and sneakers) and serves until
//! Enter is pressed or standard input closes.

use std::io::{BufRead, Read};

use klarna_sandbox::{physical_line, NewOrder, Sandbox};

fn main() -> std::io::Result<()> {
    let sandbox = Sandbox::start()?;
    let order_id = sandbox.add_order(NewOrder::with_lines(
        "EUR",
        vec![
            physical_line("A12345", "T-shirt", 3000),
            physical_line("A98765", "Jeans", 7000),
            physical_line("B24680", "Sneakers", 10000),
        ],
    ));
    println!("Klarna Order Management sandbox at {}", sandbox.base_url());
    println!("seeded order {order_id} (200.00 EUR authorized)");
    println!(
        "try: curl -u user:pass {}/ordermanagement/v1/orders/{order_id}",
        sandbox.base_url()
    );
    println!(
        "the Payment API is served at the same URL (paths under /v1/), with any API key and partner account"
    );
    println!("press Enter to stop");
    let mut input = Vec::new();
    std::io::stdin()
        .lock()
        .take(1024)
        .read_until(b'\n', &mut input)?;
    Ok(())
}
