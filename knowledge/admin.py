from django.contrib import admin

from knowledge.models import ActionItem, KnowledgeArticle, PostMortem


class ActionItemInline(admin.TabularInline):
    model = ActionItem
    extra = 0
    autocomplete_fields = ["owner"]


@admin.register(PostMortem)
class PostMortemAdmin(admin.ModelAdmin):
    list_display = ["incident", "meeting_date", "updated_at"]
    search_fields = ["incident__number", "root_cause", "summary"]
    filter_horizontal = ["attendees"]
    raw_id_fields = ["incident"]
    inlines = [ActionItemInline]

    def get_readonly_fields(self, request, obj=None):
        # A post-mortem belongs to its incident for good (the incident carries its
        # root-cause category for the metrics).
        return ["incident"] if obj is not None else []


@admin.register(ActionItem)
class ActionItemAdmin(admin.ModelAdmin):
    list_display = ["text", "owner", "due_date", "done_at"]
    list_filter = ["done_at"]
    autocomplete_fields = ["owner"]


@admin.register(KnowledgeArticle)
class KnowledgeArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "incident", "tags", "updated_at"]
    search_fields = ["title", "symptoms", "fix", "tags"]
    raw_id_fields = ["incident"]
