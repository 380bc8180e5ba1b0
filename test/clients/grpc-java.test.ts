import { clientMatrix } from './matrix.js';

clientMatrix('grpc-java');
