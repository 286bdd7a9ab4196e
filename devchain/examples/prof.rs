use causeway_core::{Amount, AssetId, ChainId};
use causeway_devchain::tx::{address_of, public_key_of, Payload, Transaction};
use ed25519_dalek::SigningKey;
use std::time::Instant;
fn main() {
    let k = SigningKey::from_bytes(&[3; 32]);
    let tx = Transaction {
        chain_id: ChainId::new("bench").unwrap(),
        from: address_of(&k.verifying_key()),
        nonce: 0,
        payload: Payload::Transfer {
            to: address_of(&SigningKey::from_bytes(&[4; 32]).verifying_key()),
            asset: AssetId::new("USD").unwrap(),
            amount: Amount(1),
        },
    }
    .sign(&k);
    let n = 3000;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(serde_json::to_vec(&tx).unwrap());
    }
    println!("to_vec {:?}", t.elapsed() / n);
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(tx.tx.signing_bytes());
    }
    println!("signing_bytes {:?}", t.elapsed() / n);
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(public_key_of(&tx.tx.from));
    }
    println!("public_key_of {:?}", t.elapsed() / n);
    let t = Instant::now();
    for _ in 0..n {
        tx.verify().unwrap();
    }
    println!("verify {:?}", t.elapsed() / n);
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(tx.hash());
    }
    println!("hash {:?}", t.elapsed() / n);
    let vk = k.verifying_key();
    let msg = tx.tx.signing_bytes();
    let sig = k.sign_raw(&msg);
    let t = Instant::now();
    for _ in 0..n {
        vk.verify_strict(&msg, &sig).unwrap();
    }
    println!("verify_strict raw {:?}", t.elapsed() / n);
    use ed25519_dalek::Verifier;
    let t = Instant::now();
    for _ in 0..n {
        vk.verify(&msg, &sig).unwrap();
    }
    println!("verify raw {:?}", t.elapsed() / n);
}
trait SignRaw {
    fn sign_raw(&self, m: &[u8]) -> ed25519_dalek::Signature;
}
impl SignRaw for SigningKey {
    fn sign_raw(&self, m: &[u8]) -> ed25519_dalek::Signature {
        use ed25519_dalek::Signer;
        self.sign(m)
    }
}
