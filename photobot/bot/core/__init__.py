"""The chat rules every platform shares: the gate (who sends, may they act), the per-chat inbox and
lanes, and the status message of a job. Telegram and VK only translate their updates into calls
on these and their answers back."""
