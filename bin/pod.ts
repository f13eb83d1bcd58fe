#!/usr/bin/env node
import { main } from "../src/entry.js";

void main(process.argv);
