/**
 * The storage contracts of facewatch. The SQLite implementation backs the embedded profile; the
 * PostgreSQL + pgvector one (scale profile) implements the same interfaces and passes the same
 * contract test suites. All methods are async so both fit.
 */

/** A stored vector's id and its cosine distance (1 − cos) to the query. */
export interface VectorMatch {
  id: string;
  /** Cosine distance 0..2 between unit vectors. */
  distance: number;
}

/**
 * Nearest-neighbour search over unit-length face embeddings of ONE embedding model (one index per
 * model: vectors of different models are not comparable). Ids are reference-face ids.
 */
export interface VectorIndex {
  readonly model: string;
  readonly dimensions: number;
  /** Inserts or replaces vectors by id. A vector of the wrong length is an INVALID_ARGUMENT AppError. */
  upsert(items: readonly { id: string; vector: Float32Array }[]): Promise<void>;
  /** Removes vectors by id; unknown ids are ignored. */
  remove(ids: readonly string[]): Promise<void>;
  /** The k nearest vectors, nearest first; with maxDistance, only those within it. */
  search(vector: Float32Array, k: number, options?: { maxDistance?: number }): Promise<VectorMatch[]>;
  count(): Promise<number>;
  /** Every id in the index (for repairs against the store: not for the hot path). */
  ids(): Promise<string[]>;
  /** Approximate indexes only (pgvector): how the HNSW index in use is built, and the settings of the store. */
  describeAnn?(): Promise<AnnIndexState>;
  /**
   * Approximate indexes only (pgvector): builds a new HNSW index beside the one in use and
   * switches to it (searches go on meanwhile), reporting progress. Unset options take the
   * store's configured build.
   */
  rebuildAnn?(options: AnnRebuildOptions, onProgress?: (progress: AnnBuildProgress) => void): Promise<AnnRebuildReport>;
}

/** How an HNSW index stores its vectors: float32 `vector`, or float16 `halfvec` (half the size; answers re-ranked exactly). */
export type AnnStorage = 'vector' | 'halfvec';

/** How an HNSW index is built (pgvector's `m` and `ef_construction`). */
export interface AnnIndexDescription {
  storage: AnnStorage;
  m: number;
  efConstruction: number;
}

export interface AnnIndexState {
  /** The HNSW index searches use now (undefined: none, every row is scanned). */
  inUse: AnnIndexDescription | undefined;
  /** How a new table's index, and a rebuild without options, are built. */
  configured: AnnIndexDescription;
  /** `hnsw.ef_search` of the store's connections. */
  efSearch: number;
}

export interface AnnRebuildOptions extends Partial<AnnIndexDescription> {
  /** `maintenance_work_mem` of the build, e.g. '2GB': room for the whole graph, or it slows down sharply once it spills. */
  maintenanceWorkMem?: string;
}

/** Where a rebuild is: PostgreSQL's phase name (pg_stat_progress_create_index) or facewatch's own steps. */
export interface AnnBuildProgress {
  phase: string;
  /** Vectors put into the new graph so far (during PostgreSQL's "building index" phase). */
  done: number;
  /** Vectors in the table when the build started. */
  total: number;
}

export interface AnnRebuildReport {
  /** The index searches used before (undefined: none). */
  before: AnnIndexDescription | undefined;
  after: AnnIndexDescription;
  vectors: number;
  /** Wall time of the build itself (without the wait for other processes to switch). */
  buildMs: number;
}

export interface Person {
  id: string;
  name: string;
  reason: string | null;
  /** Folder name under blacklist_db/ holding the reference images. */
  folder: string;
  imageCount: number;
  createdAt: string;
  updatedAt: string;
}

export interface ReferenceImage {
  id: string;
  personId: string;
  /** File name inside the person's folder. */
  fileName: string;
  sha256: string;
  bytes: number;
  createdAt: string;
}

export interface ReferenceFace {
  /** Also the id in the VectorIndex. */
  id: string;
  imageId: string;
  personId: string;
  model: string;
  embedding: Float32Array;
  /** Length of the raw embedding (for the `euclidean` metric). */
  norm: number;
  box: { x: number; y: number; w: number; h: number };
}

export interface PersonRepository {
  create(input: { id: string; name: string; reason: string | null; folder: string }): Promise<Person>;
  get(id: string): Promise<Person | undefined>;
  getByFolder(folder: string): Promise<Person | undefined>;
  list(options?: { offset?: number; limit?: number }): Promise<{ total: number; items: Person[] }>;
  update(id: string, changes: { name?: string; reason?: string | null }): Promise<Person | undefined>;
  /** Deletes the person with their images and faces (cascade). Returns the removed face ids. */
  delete(id: string): Promise<{ deleted: boolean; faceIds: string[] }>;
}

export interface ReferenceRepository {
  /** Adds an image and its face(s) in one transaction. */
  addImage(image: ReferenceImage, faces: readonly ReferenceFace[]): Promise<void>;
  listImages(personId: string): Promise<ReferenceImage[]>;
  /** Removes one image and its faces; returns the removed face ids. */
  removeImage(imageId: string): Promise<string[]>;
  /** Faces by id (to name the matches the vector index returns). */
  facesByIds(ids: readonly string[]): Promise<ReferenceFace[]>;
  /** Every face of a model (to rebuild an in-memory index on start). */
  allFaces(model: string): Promise<ReferenceFace[]>;
  /** Every face of one model belonging to these people (to score a face against each person's references). */
  facesOfPersons(personIds: readonly string[], model: string): Promise<ReferenceFace[]>;
}

/** match: an alert; review: a watch-list person is plausible, shown for review, never alerted; unknown. */
export type Decision = 'match' | 'review' | 'unknown';

export interface FacialAreaRecord {
  x: number;
  y: number;
  w: number;
  h: number;
  left_eye: [number, number];
  right_eye: [number, number];
  nose: [number, number];
  mouth_left: [number, number];
  mouth_right: [number, number];
}

export interface MatchRecord {
  person_id: string;
  name: string;
  /** blacklist_db/<folder>/<file> of the reference image. */
  identity: string;
  distance: number;
  threshold: number;
  target_x: number;
  target_y: number;
  target_w: number;
  target_h: number;
  source_x: number;
  source_y: number;
  source_w: number;
  source_h: number;
}

/** What was measured about a face before trusting it (the inputs of the quality gates). */
export interface FaceQualityRecord {
  eye_distance_px: number;
  sharpness: number | null;
  yaw_deg: number;
  pitch_deg: number;
  edge_cut: number;
}

/** A watch-list person the face was compared with. */
export interface CandidateRecord {
  person_id: string;
  name: string;
  /** The decision's score for this person (mean similarity to their closest references), or null under a distance rule. */
  score: number | null;
  /** Distance to the person's closest reference, in the result's metric. */
  distance: number;
  /** blacklist_db/<folder>/<file> of that reference. */
  identity: string;
  /** That reference's image and face (evidence URLs); null for faces stored before they were kept. */
  reference_image_id?: string | null;
  reference_face_id?: string | null;
}

/** Why a face got its decision. Null fields: not known (faces stored before decisions were explained). */
export interface DecisionDetails {
  /** Stable rule name: match_threshold, review_band, ambiguous, quality_gate, below_review_threshold, no_candidates, distance_threshold. */
  decision_reason: string | null;
  /** One sentence with the numbers. */
  decision_detail: string | null;
  /** The score the rule used (the best person's); null without candidates or under a distance rule. */
  score: number | null;
  /** 1 − the estimated share of strangers that would score this high against someone on the list. */
  match_confidence: number | null;
  /** Score thresholds the rule applied (null under a distance rule). */
  thresholds: { match: number; review: number } | null;
  /** Quality gates the face failed (a failed gate is never an alert). */
  gates_failed: { gate: string; value: number; limit: number }[];
  quality: FaceQualityRecord | null;
  /** The closest watch-list people, best first (also for review and unknown faces). */
  candidates: CandidateRecord[];
}

export interface FaceRecord extends DecisionDetails {
  face_index: number;
  facial_area: FacialAreaRecord;
  confidence: number;
  decision: Decision;
  /** The alerted person (decision match); under a distance rule, every person within it. Best first. */
  blacklist_matches: MatchRecord[];
}

/** One processed image, in the API's response shape. */
export interface ProcessedImage {
  id: string;
  image_path_or_identifier: string;
  /** How it arrived: api, inbox, kafka. */
  source: string;
  sha256: string | null;
  /** Path of the saved copy under processed_images_output/, when one was written. */
  stored_image_path: string | null;
  width: number | null;
  height: number | null;
  model_name: string;
  detector_backend: string;
  distance_metric: string;
  faces: FaceRecord[];
  matched: boolean;
  error: { code: string; message: string } | null;
  processed_at: string;
}

export interface ProcessedQuery {
  offset?: number;
  limit?: number;
  matched?: boolean;
  personId?: string;
  /** ISO-8601 timestamp: only results processed at or after it. */
  since?: string;
}

/** What is stored together with a result, in its transaction. */
export interface ResultExtras {
  /** Match and review faces; the image's other alerts are removed (a re-scored redelivery). */
  alerts?: readonly NewAlert[];
  /** Crops of the faces; when absent, the result's crops stay as they are. */
  evidence?: readonly FaceEvidence[];
}

export interface ProcessedRepository {
  /**
   * Inserts or replaces the image with its faces and matches (idempotent by id), its alerts and
   * evidence, and for every new alert a delivery to each enabled webhook whose filters take it,
   * in one transaction. Returns the image's alerts as stored (with their seq).
   */
  save(result: ProcessedImage, extras?: ResultExtras): Promise<{ alerts: AlertRecord[] }>;
  get(id: string): Promise<ProcessedImage | undefined>;
  /** Newest first. */
  list(query: ProcessedQuery): Promise<{ total_items: number; items: ProcessedImage[] }>;
  /**
   * Retention: deletes the results processed before `before` with their faces, matches and
   * evidence (not their alerts, which have their own retention). Returns how many, and the
   * stored_image_path of each, whose files the caller removes.
   */
  purge(before: string): Promise<{ results: number; copies: string[] }>;
  /**
   * Erasure of a person from the stored results: their matches and candidates are marked erased
   * (person id, name and reference path replaced), their alerts deleted with the probe
   * embeddings, and the crops of the faces matched to them deleted.
   */
  erasePerson(personId: string): Promise<ErasureReport>;
}

export type ReviewStatus = 'pending' | 'confirmed' | 'rejected';
export type AlertDecision = 'match' | 'review';

/**
 * A face worth a person's attention: an alert (decision match) or a review-band face (review),
 * stored with its result in the same transaction. Review feedback lives on it.
 */
export interface AlertRecord {
  /** For a match: the face.matched event's alert_id. */
  id: string;
  /** Increasing in insertion order: the Server-Sent Events id, for resuming a stream. */
  seq: number;
  image_id: string;
  face_index: number;
  decision: AlertDecision;
  /** The matched (or most plausible) person, as named when the face was processed. */
  person_id: string;
  name: string;
  score: number | null;
  match_confidence: number | null;
  /** Distance to the person's closest reference, in the result's metric. */
  distance: number;
  /** The match threshold as a distance in that metric (as face.matched events carry it); null when unknown. */
  threshold: number | null;
  decision_reason: string | null;
  decision_detail: string | null;
  /** blacklist_db/<folder>/<file> of the closest reference. */
  identity: string;
  reference_image_id: string | null;
  reference_face_id: string | null;
  facial_area: { x: number; y: number; w: number; h: number };
  /** How the image was named by its source (path, URL, file name). */
  identifier: string;
  processed_at: string;
  review_status: ReviewStatus;
  review_note: string | null;
  reviewed_at: string | null;
  /** Who reviewed (API key name, or null when the API is open). */
  reviewed_by: string | null;
}

/** An alert to store with its result: the record without what the store assigns, plus the face's embedding. */
export type NewAlert = Omit<AlertRecord, 'seq' | 'review_status' | 'review_note' | 'reviewed_at' | 'reviewed_by'> & {
  /** The probe face's embedding (rejected alerts become known strangers for calibration); null without one. */
  embedding: Float32Array | null;
  /** Embedding key of `embedding`. */
  model: string;
};

export type EvidenceKind = 'aligned' | 'context';

/** Crops kept for a processed face: the aligned 112×112 face and the face with its surroundings (JPEG). */
export interface FaceEvidence {
  face_index: number;
  kind: EvidenceKind;
  content_type: string;
  bytes: Uint8Array;
}

export interface AlertQuery {
  offset?: number;
  limit?: number;
  personId?: string;
  decision?: AlertDecision;
  reviewStatus?: ReviewStatus;
  /** ISO-8601: only alerts of results processed at or after it. */
  since?: string;
}

export interface AlertRepository {
  /** Newest first (by seq). */
  list(query: AlertQuery): Promise<{ total_items: number; items: AlertRecord[] }>;
  get(id: string): Promise<AlertRecord | undefined>;
  /** The alerts of one processed image, in face order. */
  ofImage(imageId: string): Promise<AlertRecord[]>;
  /** Alerts with seq > `seq`, oldest first, at most `limit` (resuming an event stream). */
  after(seq: number, limit: number): Promise<AlertRecord[]>;
  /** The highest seq so far (0 when none). */
  lastSeq(): Promise<number>;
  /** Records a person's verdict; undefined when there is no such alert. */
  review(id: string, verdict: { status: Exclude<ReviewStatus, 'pending'>; note: string | null; by: string | null; at: string }): Promise<AlertRecord | undefined>;
  /** Embeddings of faces reviewers rejected (known strangers), of one embedding model. */
  rejectedEmbeddings(model: string): Promise<Float32Array[]>;
  /** Retention: deletes the alerts of results processed before `before`; returns how many. */
  purge(before: string): Promise<number>;
}

export interface EvidenceRepository {
  get(imageId: string, faceIndex: number, kind: EvidenceKind): Promise<{ content_type: string; bytes: Uint8Array } | undefined>;
}

/** Which alerts a webhook receives. Empty lists: all. */
export interface WebhookFilters {
  decisions: AlertDecision[];
  person_ids: string[];
}

export interface WebhookRecord {
  id: string;
  url: string;
  /** HMAC-SHA256 key of the signatures (never returned by the API). */
  secret: string;
  description: string | null;
  filters: WebhookFilters;
  enabled: boolean;
  created_at: string;
  updated_at: string;
}

export interface WebhookRepository {
  create(webhook: Omit<WebhookRecord, 'created_at' | 'updated_at'>, at: string): Promise<WebhookRecord>;
  list(): Promise<WebhookRecord[]>;
  get(id: string): Promise<WebhookRecord | undefined>;
  update(id: string, changes: Partial<Pick<WebhookRecord, 'url' | 'secret' | 'description' | 'filters' | 'enabled'>>, at: string): Promise<WebhookRecord | undefined>;
  /** Deletes the webhook and its deliveries. */
  delete(id: string): Promise<boolean>;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One alert to one webhook: the outbox row, written with the alert, worked off by the dispatcher. */
export interface DeliveryRecord {
  id: string;
  webhook_id: string;
  alert_id: string;
  status: DeliveryStatus;
  attempts: number;
  /** When the next attempt is due (pending). */
  next_attempt_at: string;
  last_error: string | null;
  /** HTTP status of the last answer, null when there was none. */
  last_status: number | null;
  created_at: string;
  delivered_at: string | null;
}

export interface DeliveryRepository {
  /**
   * Takes up to `limit` pending deliveries due at `now` and leases them until now + leaseMs, so
   * another dispatcher (another API process) does not take them meanwhile; a lease that runs out
   * (the process died) makes them due again.
   */
  claim(now: Date, leaseMs: number, limit: number): Promise<DeliveryRecord[]>;
  delivered(id: string, at: Date, status: number): Promise<void>;
  /** Another attempt at `next`; the lease is released. */
  retry(id: string, next: Date, error: string, status: number | null): Promise<void>;
  /** Given up. */
  failed(id: string, at: Date, error: string, status: number | null): Promise<void>;
  /** Deliveries not yet delivered or given up, of every webhook. */
  countPending(): Promise<number>;
  /** Newest first. */
  list(webhookId: string, options: { offset?: number; limit?: number; status?: DeliveryStatus }): Promise<{ total_items: number; items: DeliveryRecord[] }>;
}

/** One entry of the audit log: who did what, when and from where. Never changed or removed. */
export interface AuditEntry {
  seq: number;
  /** ISO-8601. */
  at: string;
  /** The API key's name (`default` for API_KEY), `service` (scheduled work), or null when the API is open. */
  actor: string | null;
  /** Where from: the client's address, or the process. */
  source: string | null;
  /** e.g. person.create, person.update, person.delete, reference.add, watchlist.export, watchlist.import, alert.review, image.search, retention.purge */
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: Record<string, unknown> | null;
}

export interface AuditQuery {
  offset?: number;
  limit?: number;
  action?: string;
  actor?: string;
  targetId?: string;
  /** ISO-8601: at or after it. */
  since?: string;
}

export interface AuditRepository {
  append(entry: Omit<AuditEntry, 'seq'>): Promise<AuditEntry>;
  /** Newest first. */
  list(query: AuditQuery): Promise<{ total_items: number; items: AuditEntry[] }>;
}

/** What erasing a person removed from the stored results. */
export interface ErasureReport {
  /** face_matches rows naming the person, now marked erased. */
  matches: number;
  /** Alerts and review items of the person, deleted (with their probe embeddings). */
  alerts: number;
  /** Crops of the faces matched to the person, deleted. */
  evidence: number;
  /** Faces whose stored candidates named the person, now marked erased. */
  faces: number;
}

/** One open store: the repositories and a vector index per embedding model. */
export interface Store {
  persons: PersonRepository;
  references: ReferenceRepository;
  processed: ProcessedRepository;
  alerts: AlertRepository;
  evidence: EvidenceRepository;
  webhooks: WebhookRepository;
  deliveries: DeliveryRepository;
  audit: AuditRepository;
  vectorIndex(model: string, dimensions: number): Promise<VectorIndex>;
  /** A cheap round trip proving the store answers (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
