// Imported first by the short-lived programs' entry points (the check-ins and the storage's
// ping): zod then validates without compiling a parser per object schema with `new Function`.
// That compiled parser pays off over many parses (the API server) but a program that parses its
// settings and a few answers once each spends more compiling it (about 3 ms of a check-in with
// nothing due) than it saves. Results are the same either way.
import { config } from 'zod';

config({ jitless: true });
