// CausewayHTLC against a real anvil (specs/evm-contracts.md §2).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { encodeAbiParameters, encodeFunctionData, keccak256, zeroAddress } from 'viem';
import { startAnvil } from './support/anvil.mjs';
import { deploy, eventsOf, expectRevert, send } from './support/contracts.mjs';
import { recordGas } from './support/gas.mjs';

const HOUR = 3600n;
const TOKEN_AMOUNT = 1_000n * 10n ** 18n;
const NATIVE_AMOUNT = 10n ** 18n;
/// The value adapters/src/conformance.rs expects for sha256 of 32 bytes 0x01 on every chain.
const RUST_SHA256_OF_32_ONES = '0x72cd6e8422c407fb6d098690f1130b7ded7ec2f7f5e1d30bd9d521f015363793';

const hex = (bytes) => `0x${Buffer.from(bytes).toString('hex')}`;
const sha256 = (bytes) => hex(createHash('sha256').update(bytes).digest());

function freshSecret() {
  const preimage = randomBytes(32);
  return { preimage: hex(preimage), hashlock: sha256(preimage) };
}

const LOCK_PARAMS_ABI = [
  {
    type: 'tuple',
    components: [
      { name: 'sender', type: 'address' },
      { name: 'recipient', type: 'address' },
      { name: 'token', type: 'address' },
      { name: 'amount', type: 'uint256' },
      { name: 'hashlock', type: 'bytes32' },
      { name: 'expiry', type: 'uint64' },
    ],
  },
];

describe('CausewayHTLC', () => {
  let node, htlc, token, sender, recipient, watcher, deployer;

  before(async () => {
    node = await startAnvil();
    [deployer, sender, recipient, watcher] = node.wallets;
    htlc = (await deploy(node, deployer, 'CausewayHTLC')).contract;
    token = (await deploy(node, deployer, 'test/TestToken')).contract;
    await send(node, deployer, token, 'mint', [sender.account.address, 100n * TOKEN_AMOUNT]);
    await send(node, sender, token, 'approve', [htlc.address, 2n ** 256n - 1n]);
  });

  after(async () => node?.stop());

  /// The timestamp the next transaction will see (a pending setNextBlockTimestamp included).
  async function now() {
    return (await node.publicClient.getBlock({ blockTag: 'pending' })).timestamp;
  }

  async function lockParams({ tokenAddress = token.address, amount = TOKEN_AMOUNT, secret = freshSecret(), ttl = HOUR } = {}) {
    const params = {
      sender: sender.account.address,
      recipient: recipient.account.address,
      token: tokenAddress,
      amount,
      hashlock: secret.hashlock,
      expiry: (await now()) + ttl,
    };
    return { params, secret };
  }

  const lockArgs = (p) => [p.recipient, p.token, p.amount, p.hashlock, p.expiry];

  /// Locks as `sender` (the contract takes the caller as the lock's sender).
  async function lock(params) {
    const value = params.token === zeroAddress ? params.amount : undefined;
    return send(node, sender, htlc, 'lock', lockArgs(params), { value });
  }

  /// Makes the next mined block (and calls estimated against it) carry exactly `timestamp`.
  async function atTime(timestamp) {
    await node.testClient.setNextBlockTimestamp({ timestamp });
  }

  it('hashes a preimage exactly like Rust: sha256 of the 32 raw bytes (specs/evm-contracts.md §2.3)', async () => {
    const preimage = Buffer.alloc(32, 0x01);
    assert.equal(sha256(preimage), RUST_SHA256_OF_32_ONES);
    const { params } = await lockParams({ secret: { preimage: hex(preimage), hashlock: RUST_SHA256_OF_32_ONES } });
    await lock(params);
    await send(node, watcher, htlc, 'claim', [params, hex(preimage)]);
  });

  it('runs a full ERC-20 lifecycle: lock, claim by a third party, event carries the preimage (§2.1)', async () => {
    const { params, secret } = await lockParams();
    const lockId = keccak256(encodeAbiParameters(LOCK_PARAMS_ABI, [params]));
    assert.equal(await htlc.read.lockIdOf([params]), lockId);

    const before = await token.read.balanceOf([recipient.account.address]);
    const lockReceipt = await lock(params);
    recordGas('HTLC lock (ERC-20)', lockReceipt.gasUsed);
    const [locked] = await eventsOf(node, htlc, lockReceipt, 'Locked');
    assert.deepEqual(locked.args, { lockId, ...params });
    assert.equal(await htlc.read.lockState([lockId]), 1);
    assert.equal(await token.read.balanceOf([htlc.address]) >= params.amount, true);

    const claimReceipt = await send(node, watcher, htlc, 'claim', [params, secret.preimage]);
    recordGas('HTLC claim (ERC-20)', claimReceipt.gasUsed);
    const [claimed] = await eventsOf(node, htlc, claimReceipt, 'Claimed');
    assert.deepEqual(claimed.args, {
      lockId,
      hashlock: params.hashlock,
      preimage: secret.preimage,
      recipient: params.recipient,
    });
    assert.equal(await token.read.balanceOf([recipient.account.address]), before + params.amount);
    assert.equal(await htlc.read.lockState([lockId]), 2);

    await expectRevert(send(node, watcher, htlc, 'claim', [params, secret.preimage]), 'AlreadyClaimed');
    await atTime(params.expiry);
    await expectRevert(send(node, watcher, htlc, 'refund', [params]), 'AlreadyClaimed');
  });

  it('runs a full native-coin lifecycle: lock, refund by a third party at expiry (§2.1)', async () => {
    const { params } = await lockParams({ tokenAddress: zeroAddress, amount: NATIVE_AMOUNT });
    const lockReceipt = await lock(params);
    recordGas('HTLC lock (native)', lockReceipt.gasUsed);
    const lockId = await htlc.read.lockIdOf([params]);
    assert.equal(await node.publicClient.getBalance({ address: htlc.address }), NATIVE_AMOUNT);

    const senderBefore = await node.publicClient.getBalance({ address: sender.account.address });
    await atTime(params.expiry);
    const refundReceipt = await send(node, watcher, htlc, 'refund', [params]);
    recordGas('HTLC refund (native)', refundReceipt.gasUsed);
    const [refunded] = await eventsOf(node, htlc, refundReceipt, 'Refunded');
    assert.deepEqual(refunded.args, { lockId, hashlock: params.hashlock, sender: params.sender });
    assert.equal(await node.publicClient.getBalance({ address: sender.account.address }), senderBefore + NATIVE_AMOUNT);
    assert.equal(await node.publicClient.getBalance({ address: htlc.address }), 0n);

    await expectRevert(send(node, watcher, htlc, 'refund', [params]), 'AlreadyRefunded');
  });

  it('claims native coin to the recipient', async () => {
    const { params, secret } = await lockParams({ tokenAddress: zeroAddress, amount: NATIVE_AMOUNT });
    await lock(params);
    const before = await node.publicClient.getBalance({ address: recipient.account.address });
    const receipt = await send(node, watcher, htlc, 'claim', [params, secret.preimage]);
    recordGas('HTLC claim (native)', receipt.gasUsed);
    assert.equal(await node.publicClient.getBalance({ address: recipient.account.address }), before + NATIVE_AMOUNT);
  });

  it('refunds ERC-20 to the sender at expiry', async () => {
    const { params } = await lockParams();
    await lock(params);
    const before = await token.read.balanceOf([sender.account.address]);
    await atTime(params.expiry);
    const receipt = await send(node, watcher, htlc, 'refund', [params]);
    recordGas('HTLC refund (ERC-20)', receipt.gasUsed);
    assert.equal(await token.read.balanceOf([sender.account.address]), before + params.amount);
  });

  it('rejects a claim at or after expiry, and a refund before it (§2.2 boundaries)', async () => {
    const { params, secret } = await lockParams();
    await lock(params);
    await atTime(params.expiry - 1n);
    await expectRevert(send(node, watcher, htlc, 'refund', [params]), 'EarlyRefund');
    await atTime(params.expiry);
    const args = await expectRevert(send(node, watcher, htlc, 'claim', [params, secret.preimage]), 'ClaimExpired');
    assert.equal(args[1], params.expiry);
  });

  it('rejects a wrong preimage and leaves the lock claimable', async () => {
    const { params, secret } = await lockParams();
    await lock(params);
    await expectRevert(send(node, watcher, htlc, 'claim', [params, hex(randomBytes(32))]), 'WrongPreimage');
    // The hashlock itself is not a preimage of itself.
    await expectRevert(send(node, watcher, htlc, 'claim', [params, params.hashlock]), 'WrongPreimage');
    await send(node, watcher, htlc, 'claim', [params, secret.preimage]);
  });

  it('rejects claims and refunds of locks that do not exist (tampered parameters)', async () => {
    const { params, secret } = await lockParams();
    await lock(params);
    const tampered = { ...params, recipient: watcher.account.address };
    await expectRevert(send(node, watcher, htlc, 'claim', [tampered, secret.preimage]), 'UnknownLock');
    await expectRevert(send(node, watcher, htlc, 'refund', [{ ...params, amount: 1n }]), 'UnknownLock');
  });

  it('rejects invalid locks with a named error each (§2.4)', async () => {
    const { params } = await lockParams();
    await expectRevert(lock({ ...params, amount: 0n }), 'ZeroAmount');
    await expectRevert(lock({ ...params, hashlock: `0x${'00'.repeat(32)}` }), 'ZeroHashlock');
    await expectRevert(lock({ ...params, recipient: zeroAddress }), 'ZeroRecipient');
    const t = await now();
    await atTime(t + 1n);
    await expectRevert(lock({ ...params, expiry: t + 1n }), 'ExpiryInPast');
    // An expiry in milliseconds by mistake is ~1000x too far in the future.
    await expectRevert(lock({ ...params, expiry: t * 1000n }), 'ExpiryTooFar');
    await expectRevert(send(node, sender, htlc, 'lock', lockArgs(params), { value: 1n }), 'NativeValueMismatch');
    const native = { ...params, token: zeroAddress, amount: NATIVE_AMOUNT };
    await expectRevert(send(node, sender, htlc, 'lock', lockArgs(native), { value: NATIVE_AMOUNT - 1n }), 'NativeValueMismatch');

    await lock(params);
    const lockId = await htlc.read.lockIdOf([params]);
    const [duplicate] = await expectRevert(lock(params), 'DuplicateLock');
    assert.equal(duplicate, lockId);
  });

  it('rejects a fee-on-transfer token shortfall instead of locking less (§2.5)', async () => {
    const fee = (await deploy(node, deployer, 'test/FeeOnTransferToken')).contract;
    await send(node, deployer, fee, 'mint', [sender.account.address, TOKEN_AMOUNT]);
    await send(node, sender, fee, 'approve', [htlc.address, TOKEN_AMOUNT]);
    const { params } = await lockParams({ tokenAddress: fee.address, amount: 1000n });
    const [tokenAddress, expected, received] = await expectRevert(lock(params), 'TransferShortfall');
    assert.deepEqual([tokenAddress, expected, received], [fee.address, 1000n, 990n]);
    assert.equal(await fee.read.balanceOf([htlc.address]), 0n);
  });

  it('stops a malicious token from re-entering claim or refund during a payout (§2.6)', async () => {
    const evil = (await deploy(node, deployer, 'test/ReentrantToken')).contract;
    await send(node, deployer, evil, 'mint', [sender.account.address, TOKEN_AMOUNT]);
    await send(node, sender, evil, 'approve', [htlc.address, TOKEN_AMOUNT]);
    const { params, secret } = await lockParams({ tokenAddress: evil.address, amount: 500n });
    await lock(params);

    const secondClaim = encodeFunctionData({ abi: htlc.abi, functionName: 'claim', args: [params, secret.preimage] });
    await send(node, deployer, evil, 'arm', [htlc.address, secondClaim]);
    await expectRevert(send(node, watcher, htlc, 'claim', [params, secret.preimage]), 'ReentrancyGuardReentrantCall');
    const lockId = await htlc.read.lockIdOf([params]);
    assert.equal(await htlc.read.lockState([lockId]), 1, 'the failed claim left the lock untouched');

    const reentrantLock = encodeFunctionData({ abi: htlc.abi, functionName: 'refund', args: [params] });
    await send(node, deployer, evil, 'arm', [htlc.address, reentrantLock]);
    await expectRevert(send(node, watcher, htlc, 'claim', [params, secret.preimage]), 'ReentrancyGuardReentrantCall');

    await send(node, deployer, evil, 'arm', [zeroAddress, '0x']);
    await send(node, watcher, htlc, 'claim', [params, secret.preimage]);
    assert.equal(await evil.read.balanceOf([recipient.account.address]), 500n);
    assert.equal(await evil.read.balanceOf([htlc.address]), 0n);
  });
});
