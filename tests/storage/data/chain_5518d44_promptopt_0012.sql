-- A SQLite database made by the migration chain as it was at commit 5518d44 (before the
-- renumbering): upgraded to promptopt_0012, then two rows in every table. Loaded by
-- tests/storage/test_migrations.py to prove such a database still upgrades.
BEGIN TRANSACTION;
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO "alembic_version" VALUES('promptopt_0012');
CREATE TABLE baselines (
	id INTEGER NOT NULL, 
	suite VARCHAR(255) NOT NULL, 
	run_id INTEGER NOT NULL, 
	blessed_at DATETIME NOT NULL, 
	CONSTRAINT pk_baselines PRIMARY KEY (id), 
	CONSTRAINT fk_baselines_run_id_optimization_runs FOREIGN KEY(run_id) REFERENCES optimization_runs (id) ON DELETE CASCADE
);
INSERT INTO "baselines" VALUES(1,'baseline-suite-1',1,'2026-01-01 12:00:00.000000');
INSERT INTO "baselines" VALUES(2,'baseline-suite-2',2,'2026-01-02 12:00:00.000000');
CREATE TABLE batches (
	id VARCHAR(128) NOT NULL, 
	model VARCHAR(128) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	request_hashes JSON NOT NULL, 
	run_id INTEGER, 
	created_at DATETIME NOT NULL, 
	collected_at DATETIME, 
	CONSTRAINT pk_batches PRIMARY KEY (id)
);
INSERT INTO "batches" VALUES('batches-id-1','batches-model-1','batches-status-1','{"table": "batches", "row": 1, "list": [1, "x"]}',1,'2026-01-01 12:00:00.000000','2026-01-01 12:00:00.000000');
INSERT INTO "batches" VALUES('batches-id-2','batches-model-2','batches-status-2','{"table": "batches", "row": 2, "list": [2, "x"]}',2,'2026-01-02 12:00:00.000000','2026-01-02 12:00:00.000000');
CREATE TABLE budget_ledgers (
	session_uid VARCHAR(64) NOT NULL, 
	calls INTEGER NOT NULL, 
	spent_usd FLOAT NOT NULL, 
	reserved_usd FLOAT NOT NULL, 
	CONSTRAINT pk_budget_ledgers PRIMARY KEY (session_uid)
);
INSERT INTO "budget_ledgers" VALUES('budget_l-session_-1',1,1.25,1.25);
INSERT INTO "budget_ledgers" VALUES('budget_l-session_-2',2,2.25,2.25);
CREATE TABLE "evaluations" (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	prompt_id INTEGER NOT NULL, 
	test_case_id INTEGER NOT NULL, 
	sample INTEGER NOT NULL, 
	model_response TEXT NOT NULL, 
	functionality FLOAT, 
	safety FLOAT, 
	consistency FLOAT, 
	edge_case_handling FLOAT, 
	overall_score FLOAT NOT NULL, 
	passed BOOLEAN NOT NULL, 
	reasoning TEXT, 
	assertion_results JSON NOT NULL, 
	cached BOOLEAN NOT NULL, 
	latency_ms FLOAT NOT NULL, 
	input_tokens INTEGER NOT NULL, 
	output_tokens INTEGER NOT NULL, 
	cost_usd FLOAT, 
	created_at DATETIME NOT NULL, 
	tool_calls JSON, 
	stop_reason VARCHAR(32), 
	scores JSON, judge_spread FLOAT, judge_version VARCHAR(32), 
	CONSTRAINT pk_evaluations PRIMARY KEY (id), 
	CONSTRAINT fk_evaluations_prompt_id_prompts FOREIGN KEY(prompt_id) REFERENCES prompts (id) ON DELETE CASCADE, 
	CONSTRAINT fk_evaluations_test_case_id_test_cases FOREIGN KEY(test_case_id) REFERENCES test_cases (id) ON DELETE CASCADE, 
	CONSTRAINT fk_evaluations_run_id_optimization_runs FOREIGN KEY(run_id) REFERENCES optimization_runs (id) ON DELETE CASCADE, 
	CONSTRAINT uq_evaluations_prompt_id_test_case_id_sample UNIQUE (prompt_id, test_case_id, sample)
);
INSERT INTO "evaluations" VALUES(1,1,1,1,1,'evaluati-model_re-1',1.25,1.25,1.25,1.25,1.25,0,'evaluati-reasonin-1','{"table": "evaluations", "row": 1, "list": [1, "x"]}',0,1.25,1,1,1.25,'2026-01-01 12:00:00.000000','{"table": "evaluations", "row": 1, "list": [1, "x"]}','evaluati-stop_rea-1','{"table": "evaluations", "row": 1, "list": [1, "x"]}',1.25,'evaluati-judge_ve-1');
INSERT INTO "evaluations" VALUES(2,2,2,2,2,'evaluati-model_re-2',2.25,2.25,2.25,2.25,2.25,1,'evaluati-reasonin-2','{"table": "evaluations", "row": 2, "list": [2, "x"]}',1,2.25,2,2,2.25,'2026-01-02 12:00:00.000000','{"table": "evaluations", "row": 2, "list": [2, "x"]}','evaluati-stop_rea-2','{"table": "evaluations", "row": 2, "list": [2, "x"]}',2.25,'evaluati-judge_ve-2');
CREATE TABLE "llm_calls" (
	id INTEGER NOT NULL, 
	request_hash VARCHAR(64) NOT NULL, 
	model VARCHAR(128) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	request JSON NOT NULL, 
	response JSON NOT NULL, 
	input_tokens INTEGER NOT NULL, 
	output_tokens INTEGER NOT NULL, 
	cost_usd FLOAT, 
	latency_ms FLOAT NOT NULL, 
	run_id INTEGER, 
	created_at DATETIME NOT NULL, 
	cache_write_tokens INTEGER, 
	cache_read_tokens INTEGER, sample INTEGER, requested_model VARCHAR(128), 
	CONSTRAINT pk_llm_calls PRIMARY KEY (id), 
	CONSTRAINT uq_llm_calls_request_hash UNIQUE (request_hash)
);
INSERT INTO "llm_calls" VALUES(1,'llm_call-request_-1','llm_call-model-1','llm_call-role-1','{"table": "llm_calls", "row": 1, "list": [1, "x"]}','{"table": "llm_calls", "row": 1, "list": [1, "x"]}',1,1,1.25,1.25,1,'2026-01-01 12:00:00.000000',1,1,1,'llm_call-requeste-1');
INSERT INTO "llm_calls" VALUES(2,'llm_call-request_-2','llm_call-model-2','llm_call-role-2','{"table": "llm_calls", "row": 2, "list": [2, "x"]}','{"table": "llm_calls", "row": 2, "list": [2, "x"]}',2,2,2.25,2.25,2,'2026-01-02 12:00:00.000000',2,2,2,'llm_call-requeste-2');
CREATE TABLE model_capabilities (
	model VARCHAR(128) NOT NULL, 
	capabilities JSON NOT NULL, 
	source VARCHAR(16) NOT NULL, 
	fetched_at DATETIME NOT NULL, 
	CONSTRAINT pk_model_capabilities PRIMARY KEY (model)
);
INSERT INTO "model_capabilities" VALUES('model_ca-model-1','{"table": "model_capabilities", "row": 1, "list": [1, "x"]}','model_ca-source-','2026-01-01 12:00:00.000000');
INSERT INTO "model_capabilities" VALUES('model_ca-model-2','{"table": "model_capabilities", "row": 2, "list": [2, "x"]}','model_ca-source-','2026-01-02 12:00:00.000000');
CREATE TABLE optimization_runs (
	id INTEGER NOT NULL, 
	session_uid VARCHAR(64) NOT NULL, 
	started_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	status VARCHAR(16) NOT NULL, 
	mode VARCHAR(16) NOT NULL, 
	settings JSON NOT NULL, 
	summary JSON, calls INTEGER, cache_hits INTEGER, input_tokens INTEGER, output_tokens INTEGER, cost_usd FLOAT, unpriced_calls INTEGER, heartbeat_at DATETIME, host VARCHAR(255), pid INTEGER, version INTEGER DEFAULT 0 NOT NULL, 
	CONSTRAINT pk_optimization_runs PRIMARY KEY (id), 
	CONSTRAINT uq_optimization_runs_session_uid UNIQUE (session_uid)
);
INSERT INTO "optimization_runs" VALUES(1,'optimiza-session_-1','2026-01-01 12:00:00.000000','2026-01-01 12:00:00.000000','optimiza-status-','optimiza-mode-1','{"table": "optimization_runs", "row": 1, "list": [1, "x"]}','{"table": "optimization_runs", "row": 1, "list": [1, "x"]}',1,1,1,1,1.25,1,'2026-01-01 12:00:00.000000','optimiza-host-1',1,1);
INSERT INTO "optimization_runs" VALUES(2,'optimiza-session_-2','2026-01-02 12:00:00.000000','2026-01-02 12:00:00.000000','optimiza-status-','optimiza-mode-2','{"table": "optimization_runs", "row": 2, "list": [2, "x"]}','{"table": "optimization_runs", "row": 2, "list": [2, "x"]}',2,2,2,2,2.25,2,'2026-01-02 12:00:00.000000','optimiza-host-2',2,2);
CREATE TABLE prompts (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	suite VARCHAR(255) NOT NULL, 
	prompt_text TEXT NOT NULL, 
	prompt_hash VARCHAR(64) NOT NULL, 
	stage VARCHAR(16) NOT NULL, 
	strategy VARCHAR(64), 
	parent_prompt_id INTEGER, 
	track_id INTEGER, 
	iteration INTEGER NOT NULL, 
	is_original_system_prompt BOOLEAN NOT NULL, 
	quick_score FLOAT, 
	rigorous_score FLOAT, 
	average_score FLOAT, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_prompts PRIMARY KEY (id), 
	CONSTRAINT fk_prompts_parent_prompt_id_prompts FOREIGN KEY(parent_prompt_id) REFERENCES prompts (id) ON DELETE SET NULL, 
	CONSTRAINT fk_prompts_run_id_optimization_runs FOREIGN KEY(run_id) REFERENCES optimization_runs (id) ON DELETE CASCADE, 
	CONSTRAINT uq_prompts_run_id_suite_prompt_hash UNIQUE (run_id, suite, prompt_hash)
);
INSERT INTO "prompts" VALUES(1,1,'prompts-suite-1','prompts-prompt_t-1','prompts-prompt_h-1','prompts-stage-1','prompts-strategy-1',1,1,1,0,1.25,1.25,1.25,'2026-01-01 12:00:00.000000');
INSERT INTO "prompts" VALUES(2,2,'prompts-suite-2','prompts-prompt_t-2','prompts-prompt_h-2','prompts-stage-2','prompts-strategy-2',2,2,2,1,2.25,2.25,2.25,'2026-01-02 12:00:00.000000');
CREATE TABLE rate_limits (
	session_uid VARCHAR(64) NOT NULL, 
	ceiling INTEGER NOT NULL, 
	current INTEGER NOT NULL, 
	lowest INTEGER NOT NULL, 
	generation INTEGER NOT NULL, 
	refused INTEGER NOT NULL, 
	paused_until FLOAT NOT NULL, 
	CONSTRAINT pk_rate_limits PRIMARY KEY (session_uid)
);
INSERT INTO "rate_limits" VALUES('rate_lim-session_-1',1,1,1,1,1,1.25);
INSERT INTO "rate_limits" VALUES('rate_lim-session_-2',2,2,2,2,2,2.25);
CREATE TABLE stage_results (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	suite VARCHAR(255) NOT NULL, 
	stage VARCHAR(32) NOT NULL, 
	status VARCHAR(32) NOT NULL, 
	started_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	summary JSON NOT NULL, version INTEGER DEFAULT 0 NOT NULL, 
	CONSTRAINT pk_stage_results PRIMARY KEY (id), 
	CONSTRAINT fk_stage_results_run_id_optimization_runs FOREIGN KEY(run_id) REFERENCES optimization_runs (id) ON DELETE CASCADE, 
	CONSTRAINT uq_stage_results_run_id_suite_stage UNIQUE (run_id, suite, stage)
);
INSERT INTO "stage_results" VALUES(1,1,'stage_re-suite-1','stage_re-stage-1','stage_re-status-1','2026-01-01 12:00:00.000000','2026-01-01 12:00:00.000000','{"table": "stage_results", "row": 1, "list": [1, "x"]}',1);
INSERT INTO "stage_results" VALUES(2,2,'stage_re-suite-2','stage_re-stage-2','stage_re-status-2','2026-01-02 12:00:00.000000','2026-01-02 12:00:00.000000','{"table": "stage_results", "row": 2, "list": [2, "x"]}',2);
CREATE TABLE test_cases (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	suite VARCHAR(255) NOT NULL, 
	case_key VARCHAR(255) NOT NULL, 
	input_message TEXT NOT NULL, 
	expected_behavior TEXT, 
	category VARCHAR(128) NOT NULL, 
	stage VARCHAR(16) NOT NULL, 
	spec JSON NOT NULL, 
	created_at DATETIME NOT NULL, split VARCHAR(16), 
	CONSTRAINT pk_test_cases PRIMARY KEY (id), 
	CONSTRAINT fk_test_cases_run_id_optimization_runs FOREIGN KEY(run_id) REFERENCES optimization_runs (id) ON DELETE CASCADE, 
	CONSTRAINT uq_test_cases_run_id_suite_case_key UNIQUE (run_id, suite, case_key)
);
INSERT INTO "test_cases" VALUES(1,1,'test_cas-suite-1','test_cas-case_key-1','test_cas-input_me-1','test_cas-expected-1','test_cas-category-1','test_cas-stage-1','{"table": "test_cases", "row": 1, "list": [1, "x"]}','2026-01-01 12:00:00.000000','test_cas-split-1');
INSERT INTO "test_cases" VALUES(2,2,'test_cas-suite-2','test_cas-case_key-2','test_cas-input_me-2','test_cas-expected-2','test_cas-category-2','test_cas-stage-2','{"table": "test_cases", "row": 2, "list": [2, "x"]}','2026-01-02 12:00:00.000000','test_cas-split-2');
CREATE TABLE weakness_analyses (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	prompt_id INTEGER NOT NULL, 
	track_id INTEGER NOT NULL, 
	iteration INTEGER NOT NULL, 
	weaknesses JSON NOT NULL, 
	suggestions TEXT NOT NULL, 
	case_keys JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_weakness_analyses PRIMARY KEY (id), 
	CONSTRAINT fk_weakness_analyses_prompt_id_prompts FOREIGN KEY(prompt_id) REFERENCES prompts (id) ON DELETE CASCADE, 
	CONSTRAINT fk_weakness_analyses_run_id_optimization_runs FOREIGN KEY(run_id) REFERENCES optimization_runs (id) ON DELETE CASCADE, 
	CONSTRAINT uq_weakness_analyses_run_id_prompt_id UNIQUE (run_id, prompt_id)
);
INSERT INTO "weakness_analyses" VALUES(1,1,1,1,1,'{"table": "weakness_analyses", "row": 1, "list": [1, "x"]}','weakness-suggesti-1','{"table": "weakness_analyses", "row": 1, "list": [1, "x"]}','2026-01-01 12:00:00.000000');
INSERT INTO "weakness_analyses" VALUES(2,2,2,2,2,'{"table": "weakness_analyses", "row": 2, "list": [2, "x"]}','weakness-suggesti-2','{"table": "weakness_analyses", "row": 2, "list": [2, "x"]}','2026-01-02 12:00:00.000000');
CREATE INDEX ix_baselines_suite ON baselines (suite);
CREATE INDEX ix_evaluations_run_id ON evaluations (run_id);
COMMIT;
