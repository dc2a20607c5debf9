/**
 * Setup for jest's `e2e` project: real processes on a busy machine start slowly, so a test without its own deadline
 * gets a generous one (the waits inside end as soon as their condition holds, so this costs nothing when things are
 * quick). A file's own jest.setTimeout or a test's own timeout still wins.
 */
import { jest } from '@jest/globals';

jest.setTimeout(120_000);
