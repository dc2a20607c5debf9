import { readPeers, writePeers } from './turku-peers.js';

const IDS = ['secret:cu9k0hlrfhps7f0t6mq0', 'secret:cu9k0hlrfhps7f0t6mq1'];

test('round-trips the list of registration secret ids as JSON', () => {
  const bag = writePeers({ 'registration-secret-ids': IDS });
  expect(bag).toEqual({ 'registration-secret-ids': JSON.stringify(IDS) });
  expect(readPeers(bag)).toEqual({ ok: true, value: { 'registration-secret-ids': IDS } });
});

test('an application bag the leader has not written yet means no secrets', () => {
  expect(readPeers({})).toEqual({ ok: true, value: { 'registration-secret-ids': [] } });
});

test('unknown keys are ignored; bad JSON and bad ids are named', () => {
  expect(readPeers({ 'registration-secret-ids': '[]', 'added-later': 'x' }).ok).toBe(true);
  expect(readPeers({ 'registration-secret-ids': 'secret:x' })).toEqual({
    ok: false,
    problems: ['registration-secret-ids: expected JSON text'],
  });
  expect(readPeers({ 'registration-secret-ids': '["token"]' })).toEqual({
    ok: false,
    problems: ['registration-secret-ids.0: expected a secret URI (secret:<id>)'],
  });
});
