"""The participant-facing study app: studies, their conditions, stimuli and questionnaire, the
participant's way through a study, the monitor, exports and the researchers' API views."""
