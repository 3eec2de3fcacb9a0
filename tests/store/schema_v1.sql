CREATE TABLE contacts (
	id INTEGER NOT NULL, 
	address VARCHAR(320) NOT NULL, 
	name TEXT NOT NULL, 
	names TEXT NOT NULL, 
	do_not_contact BOOLEAN NOT NULL, 
	do_not_contact_reason TEXT NOT NULL, 
	timezone VARCHAR(64) NOT NULL, 
	last_reply_at DATETIME, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_contacts PRIMARY KEY (id), 
	CONSTRAINT uq_contacts_address UNIQUE (address)
);

CREATE TABLE cursors (
	source VARCHAR(1000) NOT NULL, 
	value TEXT NOT NULL, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_cursors PRIMARY KEY (source)
);

CREATE TABLE daemon_state (
	"key" VARCHAR(64) NOT NULL, 
	value TEXT NOT NULL, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_daemon_state PRIMARY KEY ("key")
);

CREATE TABLE meetings (
	id INTEGER NOT NULL, 
	ical_uid VARCHAR(1000), 
	recurrence_id VARCHAR(64) NOT NULL, 
	sequence BIGINT NOT NULL, 
	dtstamp DATETIME, 
	start_at DATETIME, 
	end_at DATETIME, 
	all_day BOOLEAN NOT NULL, 
	timezone VARCHAR(64) NOT NULL, 
	contact_timezone VARCHAR(64) NOT NULL, 
	summary TEXT NOT NULL, 
	description TEXT NOT NULL, 
	location TEXT NOT NULL, 
	meeting_url TEXT NOT NULL, 
	organizer VARCHAR(320) NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	role_set_by_owner BOOLEAN NOT NULL, 
	counterpart_id INTEGER, 
	needs_counterpart BOOLEAN NOT NULL, 
	trusted BOOLEAN NOT NULL, 
	confirmed BOOLEAN NOT NULL, 
	paused BOOLEAN NOT NULL, 
	recurring BOOLEAN NOT NULL, 
	source_message_id VARCHAR(1000) NOT NULL, 
	last_contact_reply_at DATETIME, 
	scheduled_at DATETIME, 
	rescheduled_at DATETIME, 
	confirmed_at DATETIME, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_meetings PRIMARY KEY (id), 
	CONSTRAINT uq_meetings_ical_uid_recurrence_id UNIQUE (ical_uid, recurrence_id), 
	CONSTRAINT ck_meetings_state CHECK (state IN ('requested', 'pending', 'scheduled', 'cancelled', 'done')), 
	CONSTRAINT ck_meetings_role CHECK (role IN ('seeker', 'adviser')), 
	CONSTRAINT fk_meetings_counterpart_id_contacts FOREIGN KEY(counterpart_id) REFERENCES contacts (id) ON DELETE SET NULL
);

CREATE INDEX ix_meetings_counterpart_id ON meetings (counterpart_id);

CREATE INDEX ix_meetings_start_at ON meetings (start_at);

CREATE TABLE attachments (
	id INTEGER NOT NULL, 
	meeting_id INTEGER, 
	contact_id INTEGER, 
	path TEXT NOT NULL, 
	filename TEXT NOT NULL, 
	content_type VARCHAR(255) NOT NULL, 
	size BIGINT NOT NULL, 
	sha256 VARCHAR(64) NOT NULL, 
	message_id VARCHAR(1000) NOT NULL, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_attachments PRIMARY KEY (id), 
	CONSTRAINT fk_attachments_meeting_id_meetings FOREIGN KEY(meeting_id) REFERENCES meetings (id) ON DELETE CASCADE, 
	CONSTRAINT fk_attachments_contact_id_contacts FOREIGN KEY(contact_id) REFERENCES contacts (id) ON DELETE CASCADE
);

CREATE INDEX ix_attachments_contact_id ON attachments (contact_id);

CREATE INDEX ix_attachments_meeting_id ON attachments (meeting_id);

CREATE TABLE notes (
	id INTEGER NOT NULL, 
	meeting_id INTEGER NOT NULL, 
	text TEXT NOT NULL, 
	source VARCHAR(16) NOT NULL, 
	message_id VARCHAR(1000) NOT NULL, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_notes PRIMARY KEY (id), 
	CONSTRAINT fk_notes_meeting_id_meetings FOREIGN KEY(meeting_id) REFERENCES meetings (id) ON DELETE CASCADE
);

CREATE INDEX ix_notes_meeting_id ON notes (meeting_id);

CREATE TABLE steps (
	id INTEGER NOT NULL, 
	meeting_id INTEGER NOT NULL, 
	step VARCHAR(32) NOT NULL, 
	occurrence INTEGER NOT NULL, 
	due_at DATETIME NOT NULL, 
	mode VARCHAR(16) NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	attempts INTEGER NOT NULL, 
	last_error TEXT NOT NULL, 
	reason TEXT NOT NULL, 
	message_id VARCHAR(1000), 
	next_attempt_at DATETIME, 
	sent_at DATETIME, 
	receipt TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_steps PRIMARY KEY (id), 
	CONSTRAINT uq_steps_meeting_id_step_occurrence UNIQUE (meeting_id, step, occurrence), 
	CONSTRAINT ck_steps_state CHECK (state IN ('pending', 'sending', 'sent', 'uncertain', 'failed', 'skipped', 'cancelled')), 
	CONSTRAINT ck_steps_mode CHECK (mode IN ('send', 'draft', 'notify', 'off')), 
	CONSTRAINT fk_steps_meeting_id_meetings FOREIGN KEY(meeting_id) REFERENCES meetings (id) ON DELETE CASCADE
);

CREATE INDEX ix_steps_message_id ON steps (message_id);

CREATE INDEX ix_steps_state_due_at ON steps (state, due_at);

CREATE TABLE messages (
	id INTEGER NOT NULL, 
	account VARCHAR(1000), 
	folder VARCHAR(1000), 
	uidvalidity BIGINT, 
	uid BIGINT, 
	direction VARCHAR(3) NOT NULL, 
	message_id VARCHAR(1000) NOT NULL, 
	content_hash VARCHAR(128) NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	meeting_id INTEGER, 
	contact_id INTEGER, 
	step_id INTEGER, 
	sender VARCHAR(320) NOT NULL, 
	subject TEXT NOT NULL, 
	in_reply_to VARCHAR(1000) NOT NULL, 
	sent_at DATETIME, 
	seen_at DATETIME NOT NULL, 
	error TEXT NOT NULL, 
	location TEXT NOT NULL, 
	CONSTRAINT pk_messages PRIMARY KEY (id), 
	CONSTRAINT uq_messages_account_folder_uidvalidity_uid UNIQUE (account, folder, uidvalidity, uid), 
	CONSTRAINT ck_messages_direction CHECK (direction IN ('in', 'out')), 
	CONSTRAINT fk_messages_meeting_id_meetings FOREIGN KEY(meeting_id) REFERENCES meetings (id) ON DELETE SET NULL, 
	CONSTRAINT fk_messages_contact_id_contacts FOREIGN KEY(contact_id) REFERENCES contacts (id) ON DELETE SET NULL, 
	CONSTRAINT fk_messages_step_id_steps FOREIGN KEY(step_id) REFERENCES steps (id) ON DELETE SET NULL
);

CREATE INDEX ix_messages_content_hash ON messages (content_hash);

CREATE INDEX ix_messages_meeting_id ON messages (meeting_id);

CREATE INDEX ix_messages_message_id ON messages (message_id);
