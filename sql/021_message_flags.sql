-- 021_message_flags.sql: the bits of PidTagMessageFlags a client sets when
-- it creates a message ([MS-OXCMSG] 2.2.1.6): mfUnsent (a draft), mfFromMe,
-- mfResend, mfNotifyRead, mfNotifyUnread. They are fixed once the message
-- is first saved. The others are the store's: mfRead is the read state
-- (is_read), mfFAI is_fai. IMAP's \Draft is mfUnsent.
ALTER TABLE messages ADD COLUMN msg_flags integer NOT NULL DEFAULT 0
    CHECK (msg_flags & ~(8 | 32 | 128 | 256 | 512) = 0);

-- storaged saves every new message through xc_new_messages (sql/019,
-- sql/020), one message or several: the single-message copy goes.
DROP FUNCTION xc_new_message(bigint, bigint, bigint, boolean, bytea, text,
                             text, float8, bigint, boolean, bigint);
