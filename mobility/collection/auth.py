"""(Being written.)"""


class DigestHA1Recorder:
    def validate(self, password, user=None):
        return None

    def password_changed(self, password, user=None):
        return None

    def get_help_text(self):
        return ""
