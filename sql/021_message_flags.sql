-- 021_message_flags.sql: the bits of PidTagMessageFlags a client sets when
-- it creates a message ([MS-OXCMSG] 2.2.1.6): mfUnsent (a draft), mfFromMe,
-- mfResend, mfNotifyRead, mfNotifyUnread. They are fixed once the message
-- is first saved. The others are the store's: mfRead is the read state
-- (is_read), mfFAI is_fai. IMAP's \Draft is mfUnsent.
ALTER TABLE messages ADD COLUMN msg_flags integer NOT NULL DEFAULT 0
    CHECK (msg_flags & ~(8 | 32 | 128 | 256 | 512) = 0);
