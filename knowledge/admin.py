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
