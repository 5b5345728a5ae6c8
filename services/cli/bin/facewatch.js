#!/usr/bin/env node
// Entry of the `facewatch` command; the compiled CLI lives in ../dist.
import '../dist/main.js';
