// Types of `elex/worker`: the classes of `elex`, run in a module worker, every method returning a
// promise. Option types are the generated ones of the main build.
import type { HnswIndexOptions, AdaptiveCacheOptions, SliceOptions, TextIndexOptions, HybridQuery, HnswOpenOptions, TextOpenOptions, QLearnerOpenOptions, StorageStats, Recovered, SearchOptions, CalibrateOptions, CalibrationInfo } from '../pkg/web/simd/elex.js';
import type { InitOptions, Flavour } from './index.js';

export type { HnswIndexOptions, AdaptiveCacheOptions, SliceOptions, TextIndexOptions, HybridQuery, HnswOpenOptions, TextOpenOptions, QLearnerOpenOptions, StorageStats, Recovered, SearchOptions, CalibrateOptions, CalibrationInfo };

/** The persistent side of an object from `open` (`HnswIndex.open` and friends). */
export interface WorkerPersistent {
  flush(): Promise<void>;
  checkpoint(): Promise<void>;
  close(): Promise<void>;
  storageStats(): Promise<StorageStats | null>;
  readonly persistent: Promise<boolean>;
  readonly readOnly: Promise<boolean>;
  readonly recovered: Promise<Recovered | null>;
}

type Vector = Float32Array | Float64Array | number[];
type Progress = ((done: number, total: number) => void) | SliceOptions;

/** A typed array marked to be moved to the worker (see `transfer`). */
export interface Transferred { readonly __elexTransfer: true }

/** Search results as plain typed arrays (transferred from the worker). */
export interface WorkerSearchResult {
  ids: Float64Array;
  scores: Float32Array;
  distances: Float32Array;
  length: number;
}

export interface WorkerHnswIndex extends WorkerPersistent {
  add(id: number, vector: Vector | Transferred): Promise<void>;
  addBatch(ids: Float64Array | number[] | Transferred, vectors: Vector | Transferred, options?: Progress): Promise<number>;
  search(query: Vector | Transferred, k: number, ef?: number | SearchOptions): Promise<WorkerSearchResult>;
  searchFiltered(query: Vector | Transferred, k: number, allow: Float64Array | number[], ef?: number | SearchOptions): Promise<WorkerSearchResult>;
  delete(id: number): Promise<void>;
  has(id: number): Promise<boolean>;
  compact(options?: SliceOptions): Promise<void>;
  calibrate(options?: CalibrateOptions): Promise<CalibrationInfo>;
  calibration(): Promise<CalibrationInfo | undefined>;
  memoryBytes(): Promise<number>;
  toBytes(): Promise<Uint8Array>;
  snapshot(options?: SliceOptions): Promise<Uint8Array>;
  save(dbName: string, key: string): Promise<number>;
  readonly size: Promise<number>;
  readonly dims: Promise<number>;
  readonly deletedCount: Promise<number>;
  free(): Promise<void>;
}

export interface WorkerAdaptiveCache {
  put(key: string, value: unknown, bytes?: number): Promise<void>;
  get(key: string): Promise<any>;
  delete(key: string): Promise<boolean>;
  relieve(hostPressure: number): Promise<{ pressure: number; share: number; entries: number; bytes: number; trend: string }>;
  flush(): Promise<void>;
  stats(): Promise<Record<string, number>>;
  close(): Promise<void>;
  readonly bytes: Promise<number>;
  readonly budget: Promise<number>;
  free(): Promise<void>;
}

export interface WorkerQLearner extends WorkerPersistent {
  updateBatch(states: Uint32Array | number[], actions: Uint32Array | number[], rewards: Float32Array | number[], nextStates: Uint32Array | number[], dones: Uint8Array | number[]): Promise<number>;
  act(state: number, epsilon: number): Promise<number>;
  value(state: number, action: number): Promise<number>;
  toBytes(): Promise<Uint8Array>;
  save(dbName: string, key: string): Promise<number>;
  free(): Promise<void>;
}

export interface WorkerTextIndex extends WorkerPersistent {
  add(id: number, text: string): Promise<void>;
  addBatch(ids: Float64Array | number[] | Transferred, texts: string[], options?: Progress): Promise<number>;
  search(query: string, k: number): Promise<WorkerSearchResult>;
  searchFiltered(query: string, k: number, allow: Float64Array | number[]): Promise<WorkerSearchResult>;
  terms(text: string): Promise<string[]>;
  delete(id: number): Promise<void>;
  has(id: number): Promise<boolean>;
  compact(options?: SliceOptions): Promise<void>;
  memoryBytes(): Promise<number>;
  toBytes(): Promise<Uint8Array>;
  snapshot(options?: SliceOptions): Promise<Uint8Array>;
  save(dbName: string, key: string): Promise<number>;
  readonly size: Promise<number>;
  readonly deletedCount: Promise<number>;
  readonly termCount: Promise<number>;
  free(): Promise<void>;
}

export interface WorkerElex {
  readonly flavour: Flavour;
  /** `'core'` after `open({ core: true })`: its `AdaptiveCache`, `QLearner` and `open` calls reject with `NOT_IN_BUILD`. */
  readonly build: 'full' | 'core';
  readonly HnswIndex: {
    create(options: HnswIndexOptions): Promise<WorkerHnswIndex>;
    fromBytes(bytes: Uint8Array | Transferred): Promise<WorkerHnswIndex>;
    restore(bytes: Uint8Array | Transferred, options?: SliceOptions): Promise<WorkerHnswIndex>;
    load(dbName: string, key: string): Promise<WorkerHnswIndex>;
    open(options: HnswOpenOptions): Promise<WorkerHnswIndex>;
  };
  readonly AdaptiveCache: {
    create(options: AdaptiveCacheOptions): Promise<WorkerAdaptiveCache>;
    open(options: AdaptiveCacheOptions): Promise<WorkerAdaptiveCache>;
  };
  readonly QLearner: {
    create(states: number, actions: number, alpha: number, gamma: number, seed: number): Promise<WorkerQLearner>;
    fromBytes(bytes: Uint8Array | Transferred): Promise<WorkerQLearner>;
    load(dbName: string, key: string): Promise<WorkerQLearner>;
    open(options: QLearnerOpenOptions): Promise<WorkerQLearner>;
  };
  readonly TextIndex: {
    create(options?: TextIndexOptions): Promise<WorkerTextIndex>;
    fromBytes(bytes: Uint8Array | Transferred): Promise<WorkerTextIndex>;
    restore(bytes: Uint8Array | Transferred, options?: SliceOptions): Promise<WorkerTextIndex>;
    load(dbName: string, key: string): Promise<WorkerTextIndex>;
    open(options: TextOpenOptions): Promise<WorkerTextIndex>;
  };
  /** Vector and text search fused, over two objects of this worker (see `HybridQuery`). */
  hybridSearch(vectorIndex: WorkerHnswIndex, textIndex: WorkerTextIndex, query: HybridQuery): Promise<WorkerSearchResult>;
  transfer(view: ArrayBufferView | ArrayBuffer): Transferred;
  terminate(): void;
}

export interface WorkerOptions extends InitOptions {
  /** Your own module Worker running `elex/worker`'s script (default: started from the package). */
  worker?: Worker;
  /** Load the core build (`elex/core`: the vector index, the text index, hybrid search) in the worker. */
  core?: boolean;
}

/** Starts a module worker running elex. */
export function open(options?: WorkerOptions): Promise<WorkerElex>;

/** Marks a typed array to be moved to the worker instead of copied (the page's copy is detached). */
export function transfer(view: ArrayBufferView | ArrayBuffer): Transferred;
