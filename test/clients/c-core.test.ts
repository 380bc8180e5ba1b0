import { clientMatrix } from './matrix.js';

clientMatrix('c-core');
